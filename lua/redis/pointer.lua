-- pointer: the expiry of a job's pointer by uuid, in the order of the job's own changes whatever
-- order the calls reach the server in. Sent by EVAL (store_redis.c, without this file's comment
-- lines): it stands alone, with no prelude, and needs no function library on the pointer's node
-- (on a cluster that may be a master that holds no queue). It is also a function of the library
-- (touching no key of a queue): a run's finish on one server, whose library is there, sends it
-- ahead by FCALL, which costs the server less. KEYS[1]: the pointer,
-- zerog:job:<uuid>, the only key it touches. It holds <queue> (as submit wrote it) or
-- <queue>}<cas> (a queue name has no '}'): the job's cas after the last finish or retry that set
-- its expiry. ARGV: that cas, seconds (> 0: the finish that made the job's cas expires it in as
-- many seconds; 0: the retry that made it keeps it for good). A call whose cas is not above the
-- pointer's is late (a finish's expiry that reached the server after the retry that followed
-- the finish) and changes nothing. ARGV[3] 'undo': the expiry this cas set is taken back (it was
-- sent ahead of a settle that was then refused), unless a later change has set the pointer since.
-- Returns 1 when applied, else 0.
local v = redis.call('GET', KEYS[1])
if not v then return 0 end
local cut = string.find(v, '}', 1, true)
local cas = tonumber(ARGV[1])
if ARGV[3] == 'undo' then
  if cut and tonumber(string.sub(v, cut + 1)) == cas then return redis.call('PERSIST', KEYS[1]) end
  return 0
end
if cut and (tonumber(string.sub(v, cut + 1)) or 0) >= cas then return 0 end
local marked = (cut and string.sub(v, 1, cut - 1) or v) .. '}' .. string.format('%d', cas)
if ARGV[2] ~= '0' then return redis.call('SET', KEYS[1], marked, 'EX', ARGV[2]) and 1 end
return redis.call('SET', KEYS[1], marked) and 1
