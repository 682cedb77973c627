//go:build linux

package engineio

import (
	"io"
	"net"
	"runtime"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// A poller watches WebSocket connections with its own epoll instance and
// reads those that become readable.
//
// The connections are descriptors taken from Go (sockFD): Go's netpoller
// does not watch them, and its per-connection state is freed. Each read is
// one non-blocking read(2) holding a reference on the descriptor, which
// makes a concurrent close (by the writer) safe: the number cannot be
// closed and reused by another connection during the read.
//
// Registrations are level-triggered with EPOLLONESHOT: one event disarms
// the descriptor, so the connection belongs to one goroutine at a time (the
// poller while it reads and parses, then the goroutine applying messages)
// and its parser needs no lock; whoever holds it re-arms it when done
// (EPOLL_CTL_MOD), and level triggering then reports data that arrived in
// between. Each event gets one read of up to pollBufferBytes, so a busy
// connection cannot starve the others of its poller.
type poller struct {
	wakeableEpoll // a poke ends the loop

	mu     sync.Mutex
	conns  map[uint64]*Session
	nextID uint64

	buf []byte // shared by every connection of the poller

	spawned atomic.Int64 // reads handed to a goroutine (tests)

	done chan struct{}
}

// A session's registration is in the session itself: rid (its key in
// conns) and rdead (removed: never registered again), guarded by mu.

const (
	pollBufferBytes = 32 << 10
	pollEvents      = unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLONESHOT
	wakeID          = 0
)

func newPoller() (*poller, error) {
	ev := unix.EpollEvent{Events: unix.EPOLLIN}
	setEventID(&ev, wakeID)
	ep, err := newWakeableEpoll(ev)
	if err != nil {
		return nil, err
	}
	p := &poller{
		wakeableEpoll: ep,
		conns:         make(map[uint64]*Session),
		nextID:        wakeID + 1,
		buf:           make([]byte, pollBufferBytes),
		done:          make(chan struct{}),
	}
	go p.loop()
	return p, nil
}

func setEventID(ev *unix.EpollEvent, id uint64) {
	ev.Fd = int32(uint32(id))
	ev.Pad = int32(uint32(id >> 32))
}

func eventID(ev *unix.EpollEvent) uint64 {
	return uint64(uint32(ev.Fd)) | uint64(uint32(ev.Pad))<<32
}

// pollerCount is how many pollers a server runs: reading and parsing are
// cheap next to what the messages then cost, so few suffice.
func pollerCount() int {
	return max(1, min(4, runtime.GOMAXPROCS(0)/2))
}

// polling reports whether the server's pollers and write waiter run,
// starting them on first use. When they do not, WebSocket connections stay
// net.Conns, read and written by goroutines.
func (srv *Server) polling() bool {
	srv.pollMu.Lock()
	defer srv.pollMu.Unlock()
	return srv.startPollersLocked()
}

func (srv *Server) startPollersLocked() bool {
	if srv.pollClosed {
		return false
	}
	if srv.pollers != nil {
		return true
	}
	ww, err := newWriteWaiter()
	if err == nil {
		for range pollerCount() {
			p, perr := newPoller()
			if perr != nil {
				err = perr
				break
			}
			srv.pollers = append(srv.pollers, p)
		}
	}
	if err != nil {
		srv.cfg.Logger.Error("engineio: epoll unavailable, using goroutines", "err", err)
		if len(srv.pollers) == 0 {
			srv.pollClosed = true // do not try again
			if ww != nil {
				ww.stop()
			}
			return false
		}
	}
	// Written once, before any session has a descriptor to wait for;
	// sessions read it after taking their lock, which orders the two.
	srv.ww = ww
	return true
}

// pollerFor returns the poller that will watch a descriptor, or nil when
// the pollers are stopped.
func (srv *Server) pollerFor() *poller {
	srv.pollMu.Lock()
	defer srv.pollMu.Unlock()
	if !srv.startPollersLocked() {
		return nil
	}
	srv.pollNext++
	return srv.pollers[srv.pollNext%uint32(len(srv.pollers))]
}

// stopPollers ends the pollers and the write waiter; connections still
// registered are no longer read (their sessions end with their heartbeat),
// and those waiting to be written are closed.
func (srv *Server) stopPollers() {
	srv.pollMu.Lock()
	ps := srv.pollers
	ww := srv.ww
	srv.pollers = nil
	srv.pollClosed = true
	srv.pollMu.Unlock()
	for _, p := range ps {
		p.stop()
	}
	if ww != nil {
		ww.stop()
	}
}

func (p *poller) stop() {
	p.poke()
	<-p.done
	p.mu.Lock()
	for id, s := range p.conns {
		s.rdead = true
		delete(p.conns, id)
	}
	p.mu.Unlock()
	p.close()
}

// add registers s, armed.
func (p *poller) add(s *Session) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if s.rdead {
		return net.ErrClosed
	}
	select {
	case <-p.done:
		return errPollerClosed
	default:
	}
	id := p.nextID
	p.nextID++
	s.rid = id
	ev := unix.EpollEvent{Events: pollEvents}
	setEventID(&ev, id)
	if err := s.fd.epollCtl(p.epfd, unix.EPOLL_CTL_ADD, &ev); err != nil {
		return err
	}
	p.conns[id] = s
	return nil
}

// arm lets the poller report s again, unless s was removed meanwhile.
func (p *poller) arm(s *Session) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if s.rdead || p.conns[s.rid] != s {
		return
	}
	ev := unix.EpollEvent{Events: pollEvents}
	setEventID(&ev, s.rid)
	// A descriptor being closed is refused; whoever closes it removes s.
	_ = s.fd.epollCtl(p.epfd, unix.EPOLL_CTL_MOD, &ev)
}

// remove unregisters s for good.
func (p *poller) remove(s *Session) {
	p.mu.Lock()
	defer p.mu.Unlock()
	s.rdead = true
	if p.conns[s.rid] != s {
		return
	}
	delete(p.conns, s.rid)
	_ = s.fd.epollCtl(p.epfd, unix.EPOLL_CTL_DEL, nil)
}

func (p *poller) loop() {
	defer close(p.done)
	events := make([]unix.EpollEvent, 256)
	ready := make([]*Session, 0, len(events))
	for {
		n, err := unix.EpollWait(p.epfd, events, -1)
		if err != nil {
			if err == unix.EINTR {
				continue
			}
			return
		}
		ready = ready[:0]
		stop := false
		p.mu.Lock()
		for i := range n {
			id := eventID(&events[i])
			if id == wakeID {
				stop = true
				continue
			}
			if s := p.conns[id]; s != nil {
				ready = append(ready, s)
			}
		}
		p.mu.Unlock()
		if stop {
			return
		}
		for i, s := range ready {
			p.service(s)
			ready[i] = nil
		}
	}
}

// service reads what s has, parses it and hands any result to a goroutine,
// as its arguments: nothing read is kept in the session.
func (p *poller) service(s *Session) {
	var (
		evs  []wsEvent
		rerr error
	)
	n, err := s.fd.Read(p.buf)
	switch {
	case n > 0:
		evs, rerr = s.fp.feed(nil, p.buf[:n], int64(s.srv.cfg.MaxPayload))
	case err == unix.EAGAIN || err == unix.EINTR:
		p.arm(s) // spurious wake-up
		return
	case err == nil:
		rerr = io.EOF
	default:
		rerr = err
	}
	if len(evs) == 0 && rerr == nil {
		p.arm(s) // only part of a frame so far
		return
	}
	if rerr == nil && s.handlePongs(evs) {
		p.arm(s)
		return
	}
	p.spawned.Add(1)
	go s.runRead(evs, rerr)
}
