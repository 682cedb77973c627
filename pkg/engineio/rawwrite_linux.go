//go:build linux

package engineio

import (
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// Session.writeNow writes straight to the descriptor of a connection that
// Go's netpoller put in non-blocking mode, through syscall.RawConn.Control:
// the descriptor cannot be closed and reused during the call, no write
// deadline is armed, and a full socket buffer yields EAGAIN instead of
// parking the caller. Only one goroutine writes a session's connection at
// a time (the session's lock is held, and no flush goroutine is running),
// so frames never interleave.

// maxIovecs bounds the buffers of one vectored write (IOV_MAX is 1024).
const maxIovecs = 1024

// rawConnOf returns the descriptor access for non-blocking writes to conn, or
// nil when conn is not a socket (net.Pipe, TLS): such connections are
// always written by the flush goroutine.
func rawConnOf(conn net.Conn) syscall.RawConn {
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	return rc
}

// rawWrite does one non-blocking write(2) of b.
func rawWrite(rc syscall.RawConn, b []byte) (n int, err error) {
	cerr := rc.Control(func(fd uintptr) {
		for {
			n, err = unix.Write(int(fd), b)
			if err != unix.EINTR {
				return
			}
		}
	})
	if cerr != nil {
		return 0, cerr
	}
	return max(n, 0), err
}

// rawWritev does one non-blocking writev(2) of bufs.
func rawWritev(rc syscall.RawConn, bufs [][]byte) (n int, err error) {
	cerr := rc.Control(func(fd uintptr) {
		for {
			n, err = unix.Writev(int(fd), bufs)
			if err != unix.EINTR {
				return
			}
		}
	})
	if cerr != nil {
		return 0, cerr
	}
	return max(n, 0), err
}
