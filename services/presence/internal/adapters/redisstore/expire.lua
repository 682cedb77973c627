-- ExpireEdge: ARGV[4] edge, ARGV[5] now. If the edge's lease has run out,
-- closes its sockets and forgets it: returns {1, room, count, ...}; else
-- (renewed meanwhile, or already expired elsewhere) returns {0}.
local edge, now = ARGV[4], tonumber(ARGV[5])
local expires = redis.call('ZSCORE', LEASES, edge)
if not expires or now < tonumber(expires) then
  return {0}
end
local ek = P .. 'edge:' .. edge
local changed = {}
for _, socket in ipairs(redis.call('SMEMBERS', ek)) do
  mark_closed(socket, now)
  remove_socket(socket, changed)
end
redis.call('DEL', ek)
redis.call('ZREM', LEASES, edge)
redis.call('HDEL', BEATS, edge)
return counts(changed, {1})
