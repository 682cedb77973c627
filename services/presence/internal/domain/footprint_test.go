package domain

import (
	"runtime"
	"strconv"
	"testing"
	"time"
)

// Embedded in the edge, presence holds every connection of the process:
// this bounds the heap per socket joined to one of a few shared rooms, far
// enough above today's figure not to fail on runtime changes, low enough
// to catch a per-socket map or copy of the room name creeping back.
func TestPresenceHeapPerSocket(t *testing.T) {
	const n = 10_000
	ids := make([]string, n)
	rooms := make([]string, n)
	for i := range ids {
		// Fresh strings, as decoded from each event.
		ids[i] = "01JD" + strconv.Itoa(1_000_000_000_000_000+i)
		rooms[i] = "video:" + strconv.Itoa(1_000_000+i%10)
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	p := NewPresence(Settings{})
	now := time.UnixMilli(1_767_225_600_000)
	for i := range ids {
		p.Open(ids[i], "", "edge-1", now)
		p.Join(rooms[i], ids[i], "edge-1", now, now)
	}
	ids, rooms = nil, nil
	runtime.GC()
	runtime.ReadMemStats(&after)
	per := (int64(after.HeapAlloc) - int64(before.HeapAlloc)) / n
	t.Logf("%d bytes of heap per joined socket (socket ids included)", per)
	if per > 320 {
		t.Fatalf("%d bytes of heap per joined socket, want at most 320", per)
	}
	runtime.KeepAlive(p)
}
