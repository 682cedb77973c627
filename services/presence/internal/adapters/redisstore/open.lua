-- OpenSession: ARGV[4] socket, ARGV[5] user, ARGV[6] edge, ARGV[7] now.
local socket, user, edge, now = ARGV[4], ARGV[5], ARGV[6], tonumber(ARGV[7])
if is_closed(socket, now) then
  return 0
end
redis.call('HSET', touch(socket, edge, now), 'user', user)
return 1
