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
// written frame, for the session's own flush goroutine, which may block
// (bounded by WriteTimeout) without holding up the other sessions.
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
// blocking, and hands any rest to a flush goroutine.
func (s *Session) flushNow(w *rawWriter) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.scheduled = false
	if s.closed || s.writing || s.conn == nil || s.transport != transportWebSocket || len(s.queue) == 0 {
		// A closing session's queue and close frame are written by the
		// flush goroutine that closeLocked started.
		return
	}
	k, off := s.writeNow(w, s.queue, s.head)
	s.srv.stats.PacketsOut.Add(int64(k))
	for i := range k {
		s.queuedBytes -= s.queue[i].pollingLen()
		s.queue[i] = nil
	}
	s.head = off
	if k == len(s.queue) {
		if cap(s.queue) <= 4 {
			s.queue = s.queue[:0] // reused by the next Send: no allocation per message
		} else {
			s.queue = nil
		}
		s.queuedBytes = 0
		return
	}
	s.queue = s.queue[k:]
	s.writing = true
	go s.flushWebSocket(s.conn)
}
