//go:build linux

package engineio

import (
	"net"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"
)

// A sockFD is the descriptor of a WebSocket connection taken from Go's
// net.Conn once the session is on that transport. An idle connection then
// costs the kernel socket and this struct only: no netFD, no addresses, no
// runtime pollDesc (which is never given back to the OS) and no finalizer.
// Our pollers read it, the flushers write it and the write waiter watches
// it for writability; Go's netpoller no longer hears of it.
//
// The descriptor must never be closed while a system call on it runs:
// its number could be reused by a new connection meanwhile and the call
// would hit that one. Every call therefore holds a reference; Close sets
// the closing bit, after which no reference is given out, and whoever
// drops the last reference (Close itself when none is held) closes the
// number, as Go's internal fdMutex does.
//
// A sockFD is part of its Session (8 bytes, no allocation of its own).
// References are the system calls in flight on it, a handful at most, so
// 32 bits hold them.
type sockFD struct {
	// state is the number of references times 2, plus 1 once closing.
	state atomic.Uint32
	fd    int32
}

const fdClosing = 1

// adoptConn duplicates conn's descriptor into f and closes conn, freeing
// what Go keeps for it. Closing one of two descriptors of a socket does not
// shut the connection down. It returns false, with conn and f untouched,
// when conn has no descriptor or it cannot be duplicated (descriptor
// limit).
func adoptConn(conn net.Conn, f *sockFD) bool {
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	nfd, derr := -1, error(nil)
	if err := rc.Control(func(fd uintptr) {
		nfd, derr = unix.FcntlInt(fd, unix.F_DUPFD_CLOEXEC, 0)
	}); err != nil || derr != nil {
		return false
	}
	// O_NONBLOCK belongs to the open file, shared by both descriptors:
	// Go set it; make sure of it all the same, since nothing here may
	// ever block.
	if err := unix.SetNonblock(nfd, true); err != nil {
		_ = unix.Close(nfd)
		return false
	}
	_ = conn.Close()
	f.fd = int32(nfd)
	return true
}

// acquire takes a reference, unless the descriptor is closing.
func (f *sockFD) acquire() bool {
	for {
		v := f.state.Load()
		if v&fdClosing != 0 {
			return false
		}
		if f.state.CompareAndSwap(v, v+2) {
			return true
		}
	}
}

// release drops a reference, closing the descriptor if it was the last one
// and Close was called.
func (f *sockFD) release() {
	if f.state.Add(^uint32(1)) == fdClosing { // minus 2
		_ = unix.Close(int(f.fd))
	}
}

// Close forbids new calls and closes the descriptor as soon as no call on
// it runs. The caller removes it from every epoll set first. Only the
// first call does anything.
func (f *sockFD) Close() error {
	for {
		v := f.state.Load()
		if v&fdClosing != 0 {
			return net.ErrClosed
		}
		if f.state.CompareAndSwap(v, v|fdClosing) {
			if v == 0 {
				return unix.Close(int(f.fd))
			}
			return nil
		}
	}
}

// released reports whether the descriptor number has been closed.
func (f *sockFD) released() bool { return f.state.Load() == fdClosing }

// Read does one non-blocking read(2).
func (f *sockFD) Read(b []byte) (int, error) {
	if !f.acquire() {
		return 0, net.ErrClosed
	}
	defer f.release()
	for {
		n, err := unix.Read(int(f.fd), b)
		if err != unix.EINTR {
			return max(n, 0), err
		}
	}
}

// Write does one non-blocking write(2).
func (f *sockFD) Write(b []byte) (int, error) {
	if !f.acquire() {
		return 0, net.ErrClosed
	}
	defer f.release()
	for {
		n, err := unix.Write(int(f.fd), b)
		if err != unix.EINTR {
			return max(n, 0), err
		}
	}
}

// Writev does one non-blocking writev(2).
func (f *sockFD) Writev(iov [][]byte) (int, error) {
	if !f.acquire() {
		return 0, net.ErrClosed
	}
	defer f.release()
	for {
		n, err := unix.Writev(int(f.fd), iov)
		if err != unix.EINTR {
			return max(n, 0), err
		}
	}
}

// epollCtl adds, modifies or removes the descriptor in the epoll set epfd.
func (f *sockFD) epollCtl(epfd, op int, ev *unix.EpollEvent) error {
	if !f.acquire() {
		return net.ErrClosed
	}
	defer f.release()
	return unix.EpollCtl(epfd, op, int(f.fd), ev)
}

// control runs fn with the descriptor held open.
func (f *sockFD) control(fn func(fd int) error) error {
	if !f.acquire() {
		return net.ErrClosed
	}
	defer f.release()
	return fn(int(f.fd))
}
