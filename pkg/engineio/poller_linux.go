//go:build linux

package engineio

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"runtime"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// A poller watches WebSocket connections with its own epoll instance and
// reads those that become readable.
//
// Go's netpoller keeps watching the same descriptors; that is harmless: a
// descriptor may be in several epoll sets, and nothing parks on it in Go's
// (no goroutine calls conn.Read), so Go's readiness events are ignored.
// Reads go through syscall.RawConn.Read with a function that always returns
// true, so they never park either: they do one non-blocking read(2) while
// holding the descriptor's reference, which makes a concurrent conn.Close
// (by the writer) safe: the number cannot be closed and reused by another
// connection during the read. Duplicating descriptors instead would double
// the descriptors per connection, and a process here may hold fewer than
// 20,000.
//
// Registrations are level-triggered with EPOLLONESHOT: one event disarms
// the descriptor, so the connection belongs to one goroutine at a time (the
// poller while it reads and parses, then the goroutine applying messages)
// and its parser needs no lock; whoever holds it re-arms it when done
// (EPOLL_CTL_MOD), and level triggering then reports data that arrived in
// between. Each event gets one read of up to pollBufferBytes, so a busy
// connection cannot starve the others of its poller.
type poller struct {
	epfd int
	wake int // eventfd that ends wait

	mu     sync.Mutex
	conns  map[uint64]*wsConn
	nextID uint64

	buf    []byte // shared by every connection of the poller
	n      int
	rerr   error
	readFn func(fd uintptr) bool

	done chan struct{}
}

type pollConn struct {
	rc   syscall.RawConn
	id   uint64
	dead bool // removed: never registered again
}

const (
	pollBufferBytes = 32 << 10
	pollEvents      = unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLONESHOT
	wakeID          = 0
)

var errPollerClosed = errors.New("engineio: server closed")

func newPoller() (*poller, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	wake, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		_ = unix.Close(epfd)
		return nil, err
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN}
	setEventID(&ev, wakeID)
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, wake, &ev); err != nil {
		_ = unix.Close(wake)
		_ = unix.Close(epfd)
		return nil, err
	}
	p := &poller{
		epfd:   epfd,
		wake:   wake,
		conns:  make(map[uint64]*wsConn),
		nextID: wakeID + 1,
		buf:    make([]byte, pollBufferBytes),
		done:   make(chan struct{}),
	}
	p.readFn = func(fd uintptr) bool {
		p.n, p.rerr = unix.Read(int(fd), p.buf)
		return true
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

// pollerFor returns the poller that will watch conn, starting the server's
// pollers on first use, or nil when conn must be read by a goroutine.
func (srv *Server) pollerFor(conn net.Conn) *poller {
	if _, ok := conn.(syscall.Conn); !ok {
		return nil
	}
	srv.pollMu.Lock()
	defer srv.pollMu.Unlock()
	if srv.pollClosed {
		return nil
	}
	if srv.pollers == nil {
		for range pollerCount() {
			p, err := newPoller()
			if err != nil {
				srv.cfg.Logger.Error("engineio: epoll unavailable, reading with goroutines", "err", err)
				break
			}
			srv.pollers = append(srv.pollers, p)
		}
		if len(srv.pollers) == 0 {
			srv.pollClosed = true // do not try again
			return nil
		}
	}
	srv.pollNext++
	return srv.pollers[srv.pollNext%uint32(len(srv.pollers))]
}

// stopPollers ends the pollers; connections still registered are no longer
// read (their sessions end with their heartbeat).
func (srv *Server) stopPollers() {
	srv.pollMu.Lock()
	ps := srv.pollers
	srv.pollers = nil
	srv.pollClosed = true
	srv.pollMu.Unlock()
	for _, p := range ps {
		p.stop()
	}
}

func (p *poller) stop() {
	var one [8]byte
	binary.NativeEndian.PutUint64(one[:], 1)
	_, _ = unix.Write(p.wake, one[:])
	<-p.done
	p.mu.Lock()
	for id, c := range p.conns {
		c.pc.dead = true
		delete(p.conns, id)
	}
	p.mu.Unlock()
	_ = unix.Close(p.wake)
	_ = unix.Close(p.epfd)
}

// add registers c, armed.
func (p *poller) add(c *wsConn) error {
	sc, ok := c.conn.(syscall.Conn)
	if !ok {
		return errPollerClosed
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if c.pc.dead {
		return net.ErrClosed
	}
	select {
	case <-p.done:
		return errPollerClosed
	default:
	}
	id := p.nextID
	p.nextID++
	c.pc.rc, c.pc.id = rc, id
	ev := unix.EpollEvent{Events: pollEvents}
	setEventID(&ev, id)
	var cerr error
	if err := rc.Control(func(fd uintptr) {
		cerr = unix.EpollCtl(p.epfd, unix.EPOLL_CTL_ADD, int(fd), &ev)
	}); err != nil {
		return err
	}
	if cerr != nil {
		return cerr
	}
	p.conns[id] = c
	return nil
}

// arm lets the poller report c again, unless c was removed meanwhile.
func (p *poller) arm(c *wsConn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if c.pc.dead || p.conns[c.pc.id] != c {
		return
	}
	ev := unix.EpollEvent{Events: pollEvents}
	setEventID(&ev, c.pc.id)
	_ = c.pc.rc.Control(func(fd uintptr) {
		_ = unix.EpollCtl(p.epfd, unix.EPOLL_CTL_MOD, int(fd), &ev)
	})
	// If the descriptor is already closed, the kernel dropped it from the
	// set; whoever closed it removes c.
}

// remove unregisters c for good.
func (p *poller) remove(c *wsConn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	c.pc.dead = true
	if c.pc.rc == nil || p.conns[c.pc.id] != c {
		return
	}
	delete(p.conns, c.pc.id)
	_ = c.pc.rc.Control(func(fd uintptr) {
		_ = unix.EpollCtl(p.epfd, unix.EPOLL_CTL_DEL, int(fd), nil)
	})
}

func (p *poller) loop() {
	defer close(p.done)
	events := make([]unix.EpollEvent, 256)
	ready := make([]*wsConn, 0, len(events))
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
			if c := p.conns[id]; c != nil {
				ready = append(ready, c)
			}
		}
		p.mu.Unlock()
		if stop {
			return
		}
		for i, c := range ready {
			p.service(c)
			ready[i] = nil
		}
	}
}

// service reads what c has, parses it and hands any result to a goroutine.
func (p *poller) service(c *wsConn) {
	p.n, p.rerr = 0, nil
	err := c.pc.rc.Read(p.readFn)
	if err == nil {
		err = p.rerr
	}
	switch n := p.n; {
	case n > 0:
		c.events, c.err = c.fp.feed(c.events, p.buf[:n])
	case err == unix.EAGAIN || err == unix.EINTR:
		p.arm(c) // spurious wake-up
		return
	case err == nil:
		c.err = io.EOF
	default:
		c.err = err
	}
	if len(c.events) == 0 && c.err == nil {
		p.arm(c) // only part of a frame so far
		return
	}
	go c.run()
}
