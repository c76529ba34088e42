-- Reads `redis-cli MONITOR` output on stdin and checks that the commands each script ran touched
-- keys of a single hash slot (Redis Cluster's rule for an atomic operation), all under the hash
-- tag of the queue key the script declares first (KEYS[1]). Prints a summary;
-- exits 1 naming the first script that crossed slots.

-- CRC16/XMODEM, as Redis Cluster computes key slots.
local function crc16(s)
  local crc = 0
  for i = 1, #s do
    crc = crc ~ (s:byte(i) << 8)
    for _ = 1, 8 do
      crc = (crc & 0x8000) ~= 0 and ((crc << 1) ~ 0x1021) or (crc << 1)
      crc = crc & 0xffff
    end
  end
  return crc
end

local function slot(key)
  local open = key:find("{", 1, true)
  if open then
    local close = key:find("}", open + 1, true)
    if close and close > open + 1 then key = key:sub(open + 1, close - 1) end
  end
  return crc16(key) % 16384
end

-- the quoted arguments of a MONITOR line, unescaped enough for key names
local function args(line)
  local out = {}
  for a in line:gmatch('"(.-)"%s') do out[#out + 1] = a end
  local last = line:match('"([^"]*)"%s*$')
  if last then out[#out + 1] = last end
  return out
end

local KEYLESS = { TIME = true }
local scripts, commands, current, failed = 0, 0, nil, nil
for line in io.lines() do
  local is_lua = line:find("%[%d+ lua%]") ~= nil
  local a = args(line)
  local cmd = a[1] and a[1]:upper()
  if not is_lua and (cmd == "FCALL" or cmd == "EVALSHA" or cmd == "EVAL") then
    scripts = scripts + 1
    -- every ZeroG script declares its queue's key first: everything it touches carries that tag;
    -- but for the one of a job's pointer by uuid (pointer.lua), which touches that key only
    local tag = a[4] and a[4]:match("^{[^}]+}")
    local pointer = a[3] == "1" and a[4] and a[4]:match("^zerog:job:[^{}]+$") and a[4]
    if not tag and not pointer and not failed then
      failed = "a script declares no queue key first:\n  " .. line
    end
    current = { line = line, slot = nil, tag = tag, only = pointer }
  elseif is_lua and current and cmd and not KEYLESS[cmd] and a[2] then
    commands = commands + 1
    local s = slot(a[2])
    if current.slot and current.slot ~= s and not failed then
      failed = string.format("a script touched slots %d and %d:\n  %s\n  %s", current.slot, s,
                             current.line, line)
    end
    current.slot = current.slot or s
    if current.only and a[2] ~= current.only and not failed then
      failed = string.format("a pointer's script touched %s:\n  %s\n  %s", a[2], current.line, line)
    end
    if current.tag and a[2]:sub(1, #current.tag) ~= current.tag and not failed then
      failed = string.format("a script touched %s, outside its declared queue %s:\n  %s\n  %s",
                             a[2], current.tag, current.line, line)
    end
  elseif not is_lua then
    current = nil
  end
end
print(string.format("%d scripts, %d commands inside them", scripts, commands))
if failed then print(failed) os.exit(1) end
if scripts < 10 then print("too few scripts seen") os.exit(1) end
