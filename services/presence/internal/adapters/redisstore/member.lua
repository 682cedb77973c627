-- Join or Leave: ARGV[4] 'join' or 'leave', ARGV[5] room, ARGV[6] socket,
-- ARGV[7] edge, ARGV[8] event time, ARGV[9] now. Returns {count, changed}.
local op, room, socket, edge = ARGV[4], ARGV[5], ARGV[6], ARGV[7]
local at, now = tonumber(ARGV[8]), tonumber(ARGV[9])
local rk = P .. 'room:' .. room
if is_closed(socket, now) then
  return {redis.call('SCARD', rk), 0}
end
-- The socket is recorded even by a leave of a room it is not in, so that
-- the leave wins over its own join if that arrives later.
local sk = touch(socket, edge, now)
local last = redis.call('HGET', sk, 't:' .. room)
if last and at < tonumber(last) then
  return {redis.call('SCARD', rk), 0}
end
redis.call('HSET', sk, 't:' .. room, at)
local changed
if op == 'join' then
  changed = redis.call('SADD', rk, socket)
else
  changed = redis.call('SREM', rk, socket)
end
return {redis.call('SCARD', rk), changed}
