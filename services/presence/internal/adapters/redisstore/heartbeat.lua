-- Heartbeat: ARGV[4] edge, ARGV[5] ttl (ms), ARGV[6] send time, ARGV[7]
-- now. A heartbeat sent before the last one applied is ignored.
local edge, ttl = ARGV[4], tonumber(ARGV[5])
local at, now = tonumber(ARGV[6]), tonumber(ARGV[7])
local beat = redis.call('HGET', BEATS, edge)
if beat and at < tonumber(beat) then
  return 0
end
redis.call('HSET', BEATS, edge, at)
redis.call('ZADD', LEASES, now + ttl, edge)
return 1
