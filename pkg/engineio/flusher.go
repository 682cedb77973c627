package engineio

import (
	"runtime"
	"sync"
)

// A flusher writes the queues of WebSocket sessions with non-blocking
// writes, from a goroutine that exists only while it has sessions to write.
//
// Session.Send queues the message and, when the session has no writer yet,
// appends the session to a flusher (once: Session.scheduled). A broadcast to
// 5,000 sessions thus costs one goroutine wake-up, not 5,000 goroutines and
// write deadlines. The flusher writes each session's whole queue in one
// vectored write straight to the descriptor (rawWriter): at low load that
// is one frame per write, as soon as possible; when messages come faster
// than the flusher writes, they pile up in the queues of the sessions it
// has not reached yet and go out together, so the cost per delivery falls
// as the load rises instead of the server falling behind. Writing from the
// caller's goroutine instead would make every message its own system call,
// however busy the server.
//
// A write the kernel does not take in full (socket buffer full, EAGAIN or
// a short write) leaves the rest queued, with the offset into a partly
// written frame, and hands the session to the server's write waiter
// (writewait_linux.go), which gives it back to its flusher once the
// descriptor is writable, or closes it after WriteTimeout: a client that
// reads slowly holds no goroutine and holds up no other session.
//
// Connections that are not descriptors of our own (net.Pipe, TLS, other
// systems) are written by a flush goroutine per session instead
// (Session.flushWebSocket), which may block, bounded by WriteTimeout.
type flusher struct {
	mu      sync.Mutex
	pending []*Session
	spare   []*Session
	running bool
	w       *rawWriter // used by the running goroutine only
}

// newFlushers returns one flusher per processor, so that writes to
// different sessions run in parallel.
func newFlushers() []*flusher {
	fs := make([]*flusher, max(1, runtime.GOMAXPROCS(0)))
	for i := range fs {
		fs[i] = &flusher{w: newRawWriter()}
	}
	return fs
}

// add schedules s, whose lock the caller holds (lock order: session, then
// flusher).
func (f *flusher) add(s *Session) {
	f.mu.Lock()
	f.pending = append(f.pending, s)
	start := !f.running
	f.running = true
	f.mu.Unlock()
	if start {
		go f.run()
	}
}

func (f *flusher) run() {
	for {
		f.mu.Lock()
		batch := f.pending
		if len(batch) == 0 {
			f.running = false
			f.mu.Unlock()
			return
		}
		f.pending, f.spare = f.spare[:0], nil
		f.mu.Unlock()
		for i, s := range batch {
			s.flushNow(f.w)
			batch[i] = nil
		}
		f.mu.Lock()
		if cap(batch) <= maxSpareFlush {
			f.spare = batch[:0]
		}
		f.mu.Unlock()
	}
}

// maxSpareFlush bounds the pending list a flusher keeps for reuse.
const maxSpareFlush = 1 << 16

// flushNow writes what s has queued, as far as the kernel takes it without
// blocking, and hands the session to the write waiter when the kernel takes
// no more. The queue of a closing session ends with its close frame: once
// that is out, the descriptor is closed.
func (s *Session) flushNow(w *rawWriter) {
	s.mu.Lock()
	var done func()
	defer func() {
		s.mu.Unlock()
		if done != nil {
			// OnClose may block; the other sessions of the flusher must
			// not wait for it.
			go done()
		}
	}()
	s.scheduled = false
	if s.writing || !s.hasFD || len(s.queue) == 0 {
		return
	}
	k, off, err := s.writeNow(w, s.queue, int(s.head))
	if err != nil {
		s.srv.stats.Errors.Add(1)
		s.closeFDLocked()
		done = s.closeLocked(ReasonTransportError, nil)
		return
	}
	sent := k
	if s.closed && k == len(s.queue) {
		sent-- // the close frame is no packet
	}
	s.srv.stats.PacketsOut.Add(int64(sent))
	for i := range k {
		s.queuedBytes -= s.queue[i].pollingLen()
		s.queue[i] = nil
	}
	s.head = int32(off) // within one frame
	if k == len(s.queue) {
		if cap(s.queue) <= 4 {
			s.queue = s.queue[:0] // reused by the next Send: no allocation per message
		} else {
			s.queue = nil
		}
		s.queuedBytes = 0
		if s.closed {
			s.closeFDLocked()
		}
		return
	}
	s.queue = s.queue[k:]
	timeout := s.srv.cfg.WriteTimeout
	if s.closed && len(s.queue) == 1 {
		timeout = closeFrameTimeout // as a flush goroutine bounds the close frame
	}
	s.writing = true
	if !s.srv.ww.wait(s, &s.fd, timeout) {
		s.writing = false
		s.closeFDLocked()
		done = s.closeLocked(ReasonTransportError, nil)
	}
}

// writable is called by the write waiter when s's descriptor can take more:
// its flusher continues.
func (s *Session) writable() {
	s.mu.Lock()
	if s.writing && s.hasFD {
		s.writing = false
		s.scheduleLocked()
	}
	s.mu.Unlock()
}

// writeTimedOut is called by the write waiter when s's peer has not let us
// write for WriteTimeout: the session closes as after a failed write.
func (s *Session) writeTimedOut() {
	s.mu.Lock()
	if !s.writing || !s.hasFD {
		s.mu.Unlock()
		return
	}
	s.writing = false
	s.srv.stats.Errors.Add(1)
	s.closeFDLocked()
	done := s.closeLocked(ReasonTransportError, nil)
	s.mu.Unlock()
	if done != nil {
		go done() // the write waiter must not wait for the handler
	}
}

// closeFDLocked takes s's descriptor out of the pollers' and the write
// waiter's epoll sets and closes it (as soon as no system call on it runs).
// What is still queued can no longer be written and is dropped.
func (s *Session) closeFDLocked() {
	if !s.hasFD {
		return
	}
	s.hasFD = false
	s.queue = nil
	s.queuedBytes, s.head = 0, 0
	s.detach()
	s.srv.ww.remove(s, &s.fd)
	_ = s.fd.Close()
}
