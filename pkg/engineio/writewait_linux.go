//go:build linux

package engineio

import (
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// A writeWaiter holds the WebSocket sessions whose peer does not take what
// we write (the kernel's send buffer is full) until their descriptor is
// writable again, with one epoll instance and one goroutine per server
// instead of a blocked goroutine, or thread, per slow client.
//
// A flusher that could not write a session's whole queue sets
// Session.writing and calls wait; from then on nobody writes the session
// until the waiter lets go of it. Registrations are EPOLLOUT|EPOLLONESHOT,
// so one event disarms the descriptor; the waiter then hands the session
// back to its flusher, which writes what the kernel takes and waits again
// if need be. A descriptor may be in several epoll sets: the poller that
// reads it keeps its own registration.
//
// WriteTimeout bounds how long a peer may keep us from writing: every
// wait has a deadline, and a session still waiting at its deadline is
// closed as if a blocking write had timed out. The goroutine sleeps in
// epoll_wait until the earliest deadline it knows of (or for ever when
// nothing waits), and only looks at the deadlines when one is due.
//
// Waiting sessions are keyed by descriptor number. An event already
// fetched for a descriptor that was removed, closed and reused meanwhile
// would reach the new session: that only makes its flusher try a write
// the kernel answers with EAGAIN, after which it waits again.
type writeWaiter struct {
	wakeableEpoll // a poke: stop, or an earlier deadline than the one slept on
	base          time.Time

	mu      sync.Mutex
	waiting map[int32]waitEntry
	next    int64 // earliest deadline of waiting (may be stale: earlier)
	sleep   int64 // deadline the goroutine sleeps until; 0 for ever
	stopped bool

	done chan struct{}
}

type waitEntry struct {
	s        *Session
	deadline int64 // on the waiter's clock (now)
}

func newWriteWaiter() (*writeWaiter, error) {
	ep, err := newWakeableEpoll(unix.EpollEvent{Events: unix.EPOLLIN, Fd: -1})
	if err != nil {
		return nil, err
	}
	ww := &writeWaiter{
		wakeableEpoll: ep,
		base:          time.Now(),
		waiting:       make(map[int32]waitEntry),
		done:          make(chan struct{}),
	}
	go ww.loop()
	return ww, nil
}

// now is the waiter's clock: monotonic nanoseconds.
func (ww *writeWaiter) now() int64 { return int64(time.Since(ww.base)) }

// wait registers s, whose descriptor is f, until f is writable or timeout
// has passed. The caller holds s.mu and has set s.writing. It returns
// false when the waiter is stopped: the caller then closes the session.
func (ww *writeWaiter) wait(s *Session, f *sockFD, timeout time.Duration) bool {
	ev := unix.EpollEvent{Events: unix.EPOLLOUT | unix.EPOLLONESHOT, Fd: f.fd}
	deadline := ww.now() + int64(timeout)
	ww.mu.Lock()
	defer ww.mu.Unlock()
	if ww.stopped {
		return false
	}
	op := unix.EPOLL_CTL_MOD
	if !s.waitAdded {
		op = unix.EPOLL_CTL_ADD
	}
	if err := f.epollCtl(ww.epfd, op, &ev); err != nil {
		return false
	}
	s.waitAdded = true
	ww.waiting[f.fd] = waitEntry{s: s, deadline: deadline}
	if len(ww.waiting) == 1 || deadline < ww.next {
		ww.next = deadline
	}
	if ww.sleep == 0 || deadline < ww.sleep {
		ww.poke()
	}
	return true
}

// remove forgets s's descriptor f before it is closed. The caller holds
// s.mu.
func (ww *writeWaiter) remove(s *Session, f *sockFD) {
	if !s.waitAdded {
		return
	}
	ww.mu.Lock()
	if e, ok := ww.waiting[f.fd]; ok && e.s == s {
		delete(ww.waiting, f.fd)
	}
	ww.mu.Unlock()
	_ = f.epollCtl(ww.epfd, unix.EPOLL_CTL_DEL, nil)
	s.waitAdded = false
}

// stop ends the goroutine and closes every session still waiting: nobody
// would write them any more.
func (ww *writeWaiter) stop() {
	ww.mu.Lock()
	ww.stopped = true
	ww.poke()
	ww.mu.Unlock()
	<-ww.done
	ww.mu.Lock()
	left := make([]*Session, 0, len(ww.waiting))
	for fd, e := range ww.waiting {
		left = append(left, e.s)
		delete(ww.waiting, fd)
	}
	ww.mu.Unlock()
	for _, s := range left {
		s.writeTimedOut()
	}
	ww.close()
}

func (ww *writeWaiter) loop() {
	defer close(ww.done)
	events := make([]unix.EpollEvent, 128)
	var ready, expired []*Session
	var drain [8]byte
	for {
		ww.mu.Lock()
		if ww.stopped {
			ww.mu.Unlock()
			return
		}
		timeout := -1
		ww.sleep = 0
		if len(ww.waiting) > 0 {
			ww.sleep = ww.next
			// Round up: waking before the deadline would find nothing due.
			timeout = int(max(0, (ww.next-ww.now()+int64(time.Millisecond)-1)/int64(time.Millisecond)))
		}
		ww.mu.Unlock()
		n, err := unix.EpollWait(ww.epfd, events, timeout)
		if err != nil && err != unix.EINTR {
			return
		}
		ready, expired = ready[:0], expired[:0]
		ww.mu.Lock()
		for i := range max(n, 0) {
			fd := events[i].Fd
			if fd < 0 {
				_, _ = unix.Read(ww.wake, drain[:])
				continue
			}
			if e, ok := ww.waiting[fd]; ok {
				delete(ww.waiting, fd)
				ready = append(ready, e.s)
			}
		}
		if now := ww.now(); len(ww.waiting) > 0 && now >= ww.next {
			next := int64(0)
			for fd, e := range ww.waiting {
				if e.deadline <= now {
					delete(ww.waiting, fd)
					expired = append(expired, e.s)
				} else if next == 0 || e.deadline < next {
					next = e.deadline
				}
			}
			ww.next = next
		}
		ww.mu.Unlock()
		for i, s := range ready {
			s.writable()
			ready[i] = nil
		}
		for i, s := range expired {
			s.writeTimedOut()
			expired[i] = nil
		}
	}
}
