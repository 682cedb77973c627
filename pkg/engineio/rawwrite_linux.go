//go:build linux

package engineio

import "golang.org/x/sys/unix"

// Session.writeNow writes straight to the connection's own descriptor
// (sockFD), which is non-blocking: a full socket buffer yields EAGAIN or a
// short write instead of parking the caller, and no write deadline is
// armed. Only one goroutine writes a session's connection at a time (a
// flusher, holding the session's lock, and only while the session is not
// waiting for writability), so frames never interleave.

// maxIovecs bounds the buffers of one vectored write (IOV_MAX is 1024).
const maxIovecs = 1024

// rawWriter does non-blocking writes for one goroutine at a time (a
// flusher), reusing its vector.
type rawWriter struct {
	iov [][]byte
}

func newRawWriter() *rawWriter { return &rawWriter{iov: make([][]byte, 0, 8)} }

// Write does one non-blocking write(2) of b.
func (w *rawWriter) Write(f *sockFD, b []byte) (int, error) { return f.Write(b) }

// Writev does one non-blocking writev(2) of w.iov, which the caller filled.
func (w *rawWriter) Writev(f *sockFD) (int, error) {
	n, err := f.Writev(w.iov)
	clear(w.iov)
	w.iov = w.iov[:0]
	return n, err
}

// isWouldBlock reports whether err only means that the kernel takes no
// more for now.
func isWouldBlock(err error) bool { return err == unix.EAGAIN }
