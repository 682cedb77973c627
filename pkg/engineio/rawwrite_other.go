//go:build !linux

package engineio

import "syscall"

// Without Linux, every WebSocket write goes through the flush goroutine.

const maxIovecs = 1024

type rawWriter struct{ iov [][]byte }

func newRawWriter() *rawWriter { return &rawWriter{} }

func (w *rawWriter) Write(*sockFD, []byte) (int, error) { return 0, syscall.EINVAL }

func (w *rawWriter) Writev(*sockFD) (int, error) {
	w.iov = w.iov[:0]
	return 0, syscall.EINVAL
}

func isWouldBlock(error) bool { return false }
