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

// rawConnOf returns the descriptor access for non-blocking writes to conn,
// or nil when conn is not a socket (net.Pipe, TLS): such connections are
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

// rawWriter does non-blocking writes for one goroutine at a time (a
// flusher). Its functions are bound once, so that a write allocates
// nothing.
type rawWriter struct {
	b        []byte
	iov      [][]byte
	n        int
	err      error
	writeFn  func(uintptr)
	writevFn func(uintptr)
}

func newRawWriter() *rawWriter {
	w := &rawWriter{iov: make([][]byte, 0, 8)}
	w.writeFn = w.write
	w.writevFn = w.writev
	return w
}

func (w *rawWriter) write(fd uintptr) {
	for {
		w.n, w.err = unix.Write(int(fd), w.b)
		if w.err != unix.EINTR {
			return
		}
	}
}

func (w *rawWriter) writev(fd uintptr) {
	for {
		w.n, w.err = unix.Writev(int(fd), w.iov)
		if w.err != unix.EINTR {
			return
		}
	}
}

// Write does one non-blocking write(2) of b.
func (w *rawWriter) Write(rc syscall.RawConn, b []byte) (int, error) {
	w.b, w.n, w.err = b, 0, nil
	cerr := rc.Control(w.writeFn)
	w.b = nil
	if cerr != nil {
		return 0, cerr
	}
	return max(w.n, 0), w.err
}

// Writev does one non-blocking writev(2) of w.iov, which the caller filled.
func (w *rawWriter) Writev(rc syscall.RawConn) (int, error) {
	w.n, w.err = 0, nil
	cerr := rc.Control(w.writevFn)
	clear(w.iov)
	w.iov = w.iov[:0]
	if cerr != nil {
		return 0, cerr
	}
	return max(w.n, 0), w.err
}
