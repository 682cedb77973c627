package engineio

import (
	"net/http/httptest"
	"runtime"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"
)

// closeRecorder reports every OnClose on a channel.
type closeRecorder struct{ closed chan string }

func (h *closeRecorder) OnOpen(*Session)                   {}
func (h *closeRecorder) OnMessage(*Session, []byte, bool)  {}
func (h *closeRecorder) OnClose(_ *Session, reason string) { h.closed <- reason }

// wheelServer returns a server whose heartbeat wheel runs on a fake clock
// and is advanced by hand, and the function that sets the clock and
// advances the wheel to it.
func wheelServer(t *testing.T, cfg Config) (*Server, *closeRecorder, *atomic.Int64, func(time.Duration)) {
	t.Helper()
	h := &closeRecorder{closed: make(chan string, 1024)}
	srv := NewServer(cfg, h)
	var clock atomic.Int64
	w := newHeartbeats(srv.cfg.PingInterval, srv.cfg.PingTimeout)
	w.manual = true
	w.clock = clock.Load
	srv.heartbeats = w
	advance := func(to time.Duration) {
		clock.Store(int64(to))
		w.advance(int64(to))
	}
	return srv, h, &clock, advance
}

func openTestSession(srv *Server) *Session {
	r := httptest.NewRequest("GET", "/engine.io/?EIO=4&transport=polling", nil)
	s, _ := srv.newSession(r, transportPolling)
	srv.begin(s)
	return s
}

// pings returns how many pings are queued for s, and empties its queue
// as a polling GET would.
func pings(s *Session) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, m := range s.takeQueueLocked() {
		if m == pingMessage {
			n++
		}
	}
	return n
}

func isClosed(s *Session) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

func waitClosed(t *testing.T, h *closeRecorder) string {
	t.Helper()
	select {
	case r := <-h.closed:
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("session not closed")
		return ""
	}
}

var wheelConfig = Config{PingInterval: 25 * time.Second, PingTimeout: 20 * time.Second}

func TestHeartbeatPingAfterInterval(t *testing.T) {
	srv, _, _, advance := wheelServer(t, wheelConfig)
	tick := srv.heartbeats.tick
	s := openTestSession(srv)

	advance(wheelConfig.PingInterval - time.Nanosecond)
	if n := pings(s); n != 0 {
		t.Fatalf("%d pings before PingInterval", n)
	}
	advance(wheelConfig.PingInterval + tick)
	if n := pings(s); n != 1 {
		t.Fatalf("%d pings one tick after PingInterval, want 1", n)
	}
	// No second ping while the first is unanswered.
	advance(wheelConfig.PingInterval + wheelConfig.PingTimeout - time.Nanosecond)
	if n := pings(s); n != 0 || isClosed(s) {
		t.Fatalf("%d pings, closed %v before the pong deadline", n, isClosed(s))
	}
}

func TestHeartbeatTimeoutCloses(t *testing.T) {
	srv, h, _, advance := wheelServer(t, wheelConfig)
	tick := srv.heartbeats.tick
	s := openTestSession(srv)

	advance(wheelConfig.PingInterval + tick)
	if n := pings(s); n != 1 {
		t.Fatalf("%d pings, want 1", n)
	}
	advance(wheelConfig.PingInterval + wheelConfig.PingTimeout + 2*tick)
	if reason := waitClosed(t, h); reason != ReasonPingTimeout {
		t.Fatalf("closed with %q, want %q", reason, ReasonPingTimeout)
	}
	if got := srv.Stats().PingTimeouts.Load(); got != 1 {
		t.Fatalf("%d ping timeouts counted, want 1", got)
	}
	if srv.heartbeats.n != 0 {
		t.Fatalf("%d sessions left in the wheel", srv.heartbeats.n)
	}
	if srv.Session(s.ID()) != nil {
		t.Fatal("timed out session still registered")
	}
}

func TestHeartbeatPongResets(t *testing.T) {
	srv, h, clock, advance := wheelServer(t, wheelConfig)
	tick := srv.heartbeats.tick
	s := openTestSession(srv)

	pingAt := wheelConfig.PingInterval + tick
	advance(pingAt)
	if n := pings(s); n != 1 {
		t.Fatalf("%d pings, want 1", n)
	}
	pongAt := pingAt + 5*time.Second
	clock.Store(int64(pongAt))
	if err := s.handlePacket(Packet{Type: PacketPong}); err != nil {
		t.Fatal(err)
	}
	// Past the old pong deadline: still open, next ping not yet due.
	advance(pongAt + wheelConfig.PingInterval - time.Nanosecond)
	if n := pings(s); n != 0 || isClosed(s) {
		t.Fatalf("%d pings, closed %v before PingInterval after the pong", n, isClosed(s))
	}
	advance(pongAt + wheelConfig.PingInterval + tick)
	if n := pings(s); n != 1 {
		t.Fatalf("%d pings PingInterval after the pong, want 1", n)
	}
	select {
	case r := <-h.closed:
		t.Fatalf("closed (%s) although the pong came in time", r)
	default:
	}
}

// A request arriving after the pong deadline finds the session closed even
// if the wheel has not reached the deadline yet.
func TestHeartbeatCheckPongBeforeWheel(t *testing.T) {
	srv, _, clock, advance := wheelServer(t, wheelConfig)
	tick := srv.heartbeats.tick
	s := openTestSession(srv)
	advance(wheelConfig.PingInterval + tick)
	pings(s)

	clock.Store(int64(wheelConfig.PingInterval + wheelConfig.PingTimeout - time.Nanosecond))
	s.mu.Lock()
	done := s.checkPongLocked()
	s.mu.Unlock()
	if done != nil {
		t.Fatal("closed before the deadline")
	}
	clock.Store(int64(wheelConfig.PingInterval + wheelConfig.PingTimeout))
	s.mu.Lock()
	done = s.checkPongLocked()
	s.mu.Unlock()
	if done == nil {
		t.Fatal("not closed at the deadline")
	}
	done()
	if srv.heartbeats.n != 0 {
		t.Fatal("closed session left in the wheel")
	}
}

func TestHeartbeatCloseLeavesWheel(t *testing.T) {
	srv, h, _, advance := wheelServer(t, wheelConfig)
	var ss []*Session
	for range 10 {
		ss = append(ss, openTestSession(srv))
	}
	for _, s := range ss[:5] {
		s.Close()
		waitClosed(t, h)
	}
	if srv.heartbeats.n != 5 {
		t.Fatalf("%d sessions in the wheel, want 5", srv.heartbeats.n)
	}
	advance(wheelConfig.PingInterval + srv.heartbeats.tick)
	for i, s := range ss {
		if n, want := pings(s), min(i/5, 1); n != want {
			t.Fatalf("session %d: %d pings, want %d", i, n, want)
		}
	}
}

// Deadlines further away than one revolution of the wheel wait in their
// slot for as many revolutions as they need, and a wheel advanced in one
// long step (a stalled process) handles everything due.
func TestHeartbeatLongDeadlines(t *testing.T) {
	cfg := Config{PingInterval: time.Hour, PingTimeout: 10 * time.Millisecond}
	srv, h, _, advance := wheelServer(t, cfg)
	w := srv.heartbeats
	if revolution := w.tick * time.Duration(len(w.slots)); revolution >= cfg.PingInterval {
		t.Fatalf("test needs a wheel shorter than PingInterval, revolution %s", revolution)
	}
	s := openTestSession(srv)
	for at := time.Duration(0); at < cfg.PingInterval; at += 7 * time.Second {
		advance(at)
		if n := pings(s); n != 0 {
			t.Fatalf("ping at +%s, before PingInterval", at)
		}
	}
	advance(cfg.PingInterval + w.tick)
	if n := pings(s); n != 1 {
		t.Fatalf("%d pings, want 1", n)
	}
	advance(3 * cfg.PingInterval)
	if reason := waitClosed(t, h); reason != ReasonPingTimeout {
		t.Fatalf("closed with %q", reason)
	}
}

// Rescheduling on a pong costs no allocation: an idle session's heartbeat
// lives in the session itself.
func TestHeartbeatPongAllocations(t *testing.T) {
	srv, _, clock, _ := wheelServer(t, wheelConfig)
	s := openTestSession(srv)
	allocs := testing.AllocsPerRun(100, func() {
		s.mu.Lock()
		s.awaitingPong = true
		s.mu.Unlock()
		clock.Add(int64(time.Second))
		s.onPong()
	})
	if allocs != 0 {
		t.Fatalf("%.1f allocations per pong", allocs)
	}
}

// idleHeap returns the heap held per session by n idle sessions opened on
// transport t (session, ids, trimmed handshake, registration; heartbeat
// included; no connection).
func idleHeap(t *testing.T, tr transportKind) int64 {
	t.Helper()
	srv, _, _, _ := wheelServer(t, wheelConfig)
	const n = 2000
	keep := make([]*Session, 0, n)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for range n {
		r := httptest.NewRequest("GET", "/engine.io/?EIO=4&transport=polling", nil)
		s, _ := srv.newSession(r, tr)
		srv.begin(s)
		keep = append(keep, s)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(keep)
	return (int64(after.HeapAlloc) - int64(before.HeapAlloc)) / n
}

// An idle session must stay small: this bounds the heap it holds, a little
// above today's figure (about 510 bytes on polling, 350 on WebSocket), to
// catch a per-session timer, buffer, goroutine or field creeping back.
func TestIdleSessionHeap(t *testing.T) {
	for _, tc := range []struct {
		name string
		tr   transportKind
		max  int64
	}{
		{"polling", transportPolling, 560},
		{"websocket", transportWebSocket, 400},
	} {
		per := idleHeap(t, tc.tr)
		t.Logf("%s: %d bytes of heap per idle session", tc.name, per)
		if per > tc.max {
			t.Errorf("%s: %d bytes of heap per idle session, want at most %d", tc.name, per, tc.max)
		}
	}
}

// An idle WebSocket session is one object: the session, with its read side
// and its descriptor in it, and nothing that only polling, an upgrade or a
// message in the middle of being read needs. 192 bytes is a size class of
// the allocator; the next is 208.
func TestWebSocketSessionSize(t *testing.T) {
	if n := unsafe.Sizeof(Session{}); n > 192 {
		t.Fatalf("Session is %d bytes, want at most 192", n)
	}
	if n := unsafe.Sizeof(frameParser{}); n > unsafe.Sizeof(uintptr(0)) {
		t.Fatalf("frameParser is %d bytes, want one pointer", n)
	}
}
