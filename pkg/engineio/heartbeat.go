package engineio

import (
	"sync"
	"time"
)

// heartbeats drives the heartbeat of every session of a server with one
// timer wheel instead of a runtime timer per session: a session waiting for
// its next ping or for a pong sits in the slot of the tick its deadline
// falls in, linked through its own fields, so an idle session costs no
// allocation. One goroutine, running only while some session is in the
// wheel, advances it every tick and handles the sessions that are due.
//
// Deadlines are rounded up to the next tick: a ping or a ping timeout
// happens at most one tick late, never early. The tick is a small fraction
// of the shorter of PingInterval and PingTimeout.
//
// Locking: the wheel's links (hbNext, hbPrev, and hbSlot: the slot plus
// one, 0 when the session is not in the wheel) are guarded by mu;
// hbDue is written with both the session's mu and the wheel's held, so
// either lock suffices to read it. A session's mu is always taken before
// the wheel's.
type heartbeats struct {
	tick  time.Duration
	clock func() int64 // wheel time in nanoseconds, monotonic

	mu      sync.Mutex
	slots   []*Session // head of each slot's list
	cur     int64      // last tick handled
	n       int        // sessions in the wheel
	running bool       // the goroutine advancing the wheel exists
	manual  bool       // advanced by the caller (tests): no goroutine
	due     []*Session // reused by advance
}

const (
	// heartbeatTicks is how many ticks the shorter heartbeat period spans.
	heartbeatTicks = 20
	minTick        = time.Millisecond
	maxTick        = 500 * time.Millisecond
	maxSlots       = 4096
)

func newHeartbeats(pingInterval, pingTimeout time.Duration) *heartbeats {
	tick := min(pingInterval, pingTimeout) / heartbeatTicks
	tick = max(minTick, min(maxTick, tick))
	slots := int(max(pingInterval, pingTimeout)/tick) + 2
	slots = min(slots, maxSlots)
	base := time.Now()
	return &heartbeats{
		tick:  tick,
		clock: func() int64 { return int64(time.Since(base)) },
		slots: make([]*Session, slots),
	}
}

// now returns the wheel time.
func (w *heartbeats) now() int64 { return w.clock() }

// schedule puts s in the wheel to be handled at wheel time at (rounded up
// to a tick), moving it if it was already there. The caller holds s.mu.
func (w *heartbeats) schedule(s *Session, at int64) {
	t := (at + int64(w.tick) - 1) / int64(w.tick)
	w.mu.Lock()
	if s.hbSlot != 0 {
		w.unlinkLocked(s)
	}
	t = max(t, w.cur+1)
	s.hbDue = t
	slot := int(t % int64(len(w.slots)))
	s.hbSlot = int32(slot + 1)
	s.hbPrev = nil
	s.hbNext = w.slots[slot]
	if s.hbNext != nil {
		s.hbNext.hbPrev = s
	}
	w.slots[slot] = s
	w.n++
	start := !w.running && !w.manual
	if start {
		w.running = true
	}
	w.mu.Unlock()
	if start {
		go w.run()
	}
}

// remove takes s out of the wheel, if it is there. The caller holds s.mu.
func (w *heartbeats) remove(s *Session) {
	w.mu.Lock()
	if s.hbSlot != 0 {
		w.unlinkLocked(s)
	}
	w.mu.Unlock()
}

func (w *heartbeats) unlinkLocked(s *Session) {
	if s.hbPrev != nil {
		s.hbPrev.hbNext = s.hbNext
	} else {
		w.slots[s.hbSlot-1] = s.hbNext
	}
	if s.hbNext != nil {
		s.hbNext.hbPrev = s.hbPrev
	}
	s.hbNext, s.hbPrev, s.hbSlot = nil, nil, 0
	w.n--
}

// run advances the wheel at every tick boundary until it is empty.
func (w *heartbeats) run() {
	t := time.NewTimer(w.untilNextTick())
	defer t.Stop()
	for range t.C {
		if !w.advance(w.now()) {
			return
		}
		t.Reset(w.untilNextTick())
	}
}

func (w *heartbeats) untilNextTick() time.Duration {
	now := w.now()
	return time.Duration((now/int64(w.tick)+1)*int64(w.tick) - now)
}

// advance handles every session due by wheel time now and reports whether
// the wheel still holds sessions; when it returns false the goroutine
// calling it must stop (the next schedule starts another).
func (w *heartbeats) advance(now int64) bool {
	end := now / int64(w.tick)
	w.mu.Lock()
	// After a long pause (a stalled process), one revolution visits every
	// slot once; later deadlines stay in their slot for a later revolution.
	if end-w.cur > int64(len(w.slots)) {
		w.cur = end - int64(len(w.slots))
	}
	due := w.due[:0]
	for w.cur < end {
		w.cur++
		slot := int(w.cur % int64(len(w.slots)))
		for s := w.slots[slot]; s != nil; {
			next := s.hbNext
			if s.hbDue <= w.cur {
				w.unlinkLocked(s)
				due = append(due, s)
			}
			s = next
		}
	}
	w.cur = end
	w.mu.Unlock()
	for i, s := range due {
		s.onHeartbeat(end)
		due[i] = nil
	}
	w.mu.Lock()
	w.due = due[:0]
	more := w.n > 0 || w.manual
	if !more {
		w.running = false
	}
	w.mu.Unlock()
	return more
}

// startHeartbeat arms the first ping.
func (s *Session) startHeartbeat() {
	s.mu.Lock()
	if !s.closed {
		s.schedulePingLocked()
	}
	s.mu.Unlock()
}

// onHeartbeat runs when the wheel reaches the session's deadline (tick is
// the wheel's current tick): it either sends the next ping or, when the
// last one went unanswered for PingTimeout, closes the session. The timeout
// counts from when the ping was queued, not from when a polling client
// collected it.
func (s *Session) onHeartbeat(tick int64) {
	w := s.srv.heartbeats
	s.mu.Lock()
	// Closed, or rescheduled by a pong after the wheel took the session:
	// it is then back in the wheel, for a later tick.
	if s.closed || s.hbDue > tick {
		s.mu.Unlock()
		return
	}
	if s.awaitingPong {
		s.srv.stats.PingTimeouts.Add(1)
		done := s.closeLocked(ReasonPingTimeout, nil)
		s.mu.Unlock()
		// OnClose may block (the application publishes the departure);
		// the wheel must not wait for it.
		go done()
		return
	}
	// pongDeadline was set, when this ping was scheduled, to its intended
	// time plus PingTimeout, so that ping interval and timeout together
	// take what they take with exact timers (the ping itself may be up to
	// a tick late). A ping sent very late (the process stalled) still
	// leaves the client half of PingTimeout.
	s.awaitingPong = true
	s.pongDeadline = max(s.pongDeadline, w.now()+int64(s.srv.cfg.PingTimeout/2))
	w.schedule(s, s.pongDeadline)
	ping := [1]*Message{pingMessage}
	done, _ := s.sendLocked(ping[:])
	s.mu.Unlock()
	if done != nil {
		go done()
	}
}

// checkPongLocked closes the session if its ping went unanswered past the
// deadline, in case the wheel has not handled it yet: a request arriving
// after the deadline must find the session closed, however busy the
// machine. It returns the close callback, or nil.
func (s *Session) checkPongLocked() func() {
	if !s.closed && s.awaitingPong && s.srv.heartbeats.now() >= s.pongDeadline {
		s.srv.stats.PingTimeouts.Add(1)
		return s.closeLocked(ReasonPingTimeout, nil)
	}
	return nil
}

func (s *Session) onPong() {
	s.mu.Lock()
	if !s.closed && s.awaitingPong {
		s.awaitingPong = false
		s.schedulePingLocked()
	}
	s.mu.Unlock()
}

// schedulePingLocked schedules the next ping PingInterval from now, and
// the deadline of its pong PingTimeout after that.
func (s *Session) schedulePingLocked() {
	w := s.srv.heartbeats
	at := w.now() + int64(s.srv.cfg.PingInterval)
	s.pongDeadline = at + int64(s.srv.cfg.PingTimeout)
	w.schedule(s, at)
}
