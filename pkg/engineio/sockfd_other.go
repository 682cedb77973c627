//go:build !linux

package engineio

import (
	"net"
	"time"
)

// Without Linux, WebSocket connections stay net.Conns, read and written by
// goroutines of their own; no sockFD or writeWaiter is ever made.

type sockFD struct{}

func adoptConn(net.Conn, *sockFD) bool { return false }

func (f *sockFD) Close() error { return nil }

type writeWaiter struct{}

func (ww *writeWaiter) wait(*Session, *sockFD, time.Duration) bool { return false }
func (ww *writeWaiter) remove(*Session, *sockFD)                   {}
