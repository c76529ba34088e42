-- buried: {uuid, type, reason, ms} for each buried job of the queue, oldest first.
local out = {}
local all = redis.call('ZRANGE', p .. ':buried', 0, -1, 'WITHSCORES')
for i = 1, #all, 2 do
  local uuid = uuid_of(all[i])
  local h = redis.call('HMGET', jk(uuid), '_type', '_reason')
  out[#out + 1] = { uuid, h[1] or '', h[2] or '', all[i + 1] }
end
return out
