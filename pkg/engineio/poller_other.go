//go:build !linux

package engineio

import "net"

// Without epoll, each WebSocket connection is read by a goroutine of its
// own (wsConn.readLoop).
type poller struct{}

type pollConn struct{}

func (srv *Server) pollerFor(net.Conn) *poller { return nil }

func (srv *Server) stopPollers() {}

func (p *poller) add(*wsConn) error { return nil }
func (p *poller) arm(*wsConn)       {}
func (p *poller) remove(*wsConn)    {}
