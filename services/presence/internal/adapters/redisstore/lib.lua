-- Shared by every script. ARGV[1] key prefix, ARGV[2] default lease (ms),
-- ARGV[3] closed-socket retention (ms); the script's own arguments follow.
-- Times are Unix milliseconds, exact in Lua's doubles.
local P = ARGV[1]
local LEASE = tonumber(ARGV[2])
local RETAIN = tonumber(ARGV[3])
local LEASES = P .. 'leases'
local BEATS = P .. 'beats'

-- A closed socket is remembered until its forget-at time.
local function is_closed(socket, now)
  local until_ms = redis.call('GET', P .. 'closed:' .. socket)
  return until_ms and now < tonumber(until_ms)
end

local function mark_closed(socket, now)
  redis.call('SET', P .. 'closed:' .. socket, now + RETAIN, 'PX', RETAIN)
end

-- touch records socket on edge (moving it from another edge) and gives the
-- edge a lease on first sight. It returns the socket's hash key.
local function touch(socket, edge, now)
  local sk = P .. 'socket:' .. socket
  local old = redis.call('HGET', sk, 'edge')
  if old ~= edge then
    if old then
      redis.call('SREM', P .. 'edge:' .. old, socket)
    end
    redis.call('HSET', sk, 'edge', edge)
  end
  redis.call('SADD', P .. 'edge:' .. edge, socket)
  if not redis.call('ZSCORE', LEASES, edge) then
    redis.call('ZADD', LEASES, now + LEASE, edge)
  end
  return sk
end

-- remove_socket takes socket out of every room it is a member of, noting
-- those rooms in changed, and forgets the socket.
local function remove_socket(socket, changed)
  local sk = P .. 'socket:' .. socket
  local fields = redis.call('HGETALL', sk)
  for i = 1, #fields, 2 do
    local f = fields[i]
    if f == 'edge' then
      redis.call('SREM', P .. 'edge:' .. fields[i + 1], socket)
    elseif string.sub(f, 1, 2) == 't:' then
      local room = string.sub(f, 3)
      if redis.call('SREM', P .. 'room:' .. room, socket) == 1 then
        changed[room] = true
      end
    end
  end
  redis.call('DEL', sk)
end

-- counts appends {room, count} of every changed room to out.
local function counts(changed, out)
  for room in pairs(changed) do
    out[#out + 1] = room
    out[#out + 1] = redis.call('SCARD', P .. 'room:' .. room)
  end
  return out
end
