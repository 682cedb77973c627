-- Join or Leave: ARGV[4] 'join' or 'leave', ARGV[5] room, ARGV[6] socket,
-- ARGV[7] edge, ARGV[8] event time, ARGV[9] now, ARGV[10] the key that
-- marks the event id as handled ('' for none), ARGV[11] how long that mark
-- lasts (ms). Returns {count, changed}, or {-1, 0} if the mark exists: the
-- event was handled already and nothing is done. The mark is set in the
-- same step as the change, so a redelivery is recognised whatever happened
-- after this script.
local op, room, socket, edge = ARGV[4], ARGV[5], ARGV[6], ARGV[7]
local at, now = tonumber(ARGV[8]), tonumber(ARGV[9])
local mark, window = ARGV[10], ARGV[11]
if mark ~= '' and redis.call('EXISTS', mark) == 1 then
  return {-1, 0}
end
local rk = P .. 'room:' .. room

local function apply()
  if is_closed(socket, now) then
    return 0
  end
  -- The socket is recorded even by a leave of a room it is not in, so that
  -- the leave wins over its own join if that arrives later.
  local sk = touch(socket, edge, now)
  local last = redis.call('HGET', sk, 't:' .. room)
  if last and at < tonumber(last) then
    return 0
  end
  redis.call('HSET', sk, 't:' .. room, at)
  if op == 'join' then
    return redis.call('SADD', rk, socket)
  end
  return redis.call('SREM', rk, socket)
end

local changed = apply()
if mark ~= '' then
  redis.call('SET', mark, 1, 'PX', window)
end
return {redis.call('SCARD', rk), changed}
