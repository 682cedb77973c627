//go:build !linux

package engineio

import (
	"net"
	"syscall"
)

// Without Linux, every WebSocket write goes through the flush goroutine.

const maxIovecs = 1024

func rawConnOf(net.Conn) syscall.RawConn { return nil }

type rawWriter struct{ iov [][]byte }

func newRawWriter() *rawWriter { return &rawWriter{} }

func (w *rawWriter) Write(syscall.RawConn, []byte) (int, error) { return 0, syscall.EINVAL }

func (w *rawWriter) Writev(syscall.RawConn) (int, error) {
	w.iov = w.iov[:0]
	return 0, syscall.EINVAL
}
