//go:build !linux

package engineio

import (
	"net"
	"syscall"
)

// Without Linux, every WebSocket write goes through the flush goroutine.

const maxIovecs = 1024

func rawConnOf(net.Conn) syscall.RawConn { return nil }

func rawWrite(syscall.RawConn, []byte) (int, error) { return 0, syscall.EINVAL }

func rawWritev(syscall.RawConn, [][]byte) (int, error) { return 0, syscall.EINVAL }
