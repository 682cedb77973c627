-- CloseSocket: ARGV[4] socket, ARGV[5] now. Returns {room, count, ...} of
-- the rooms the socket left.
local socket, now = ARGV[4], tonumber(ARGV[5])
mark_closed(socket, now)
local changed = {}
remove_socket(socket, changed)
return counts(changed, {})
