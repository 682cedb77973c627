//go:build !linux

package engineio

// Without epoll, each WebSocket connection is read by a goroutine of its
// own (wsConn.readLoop).
type poller struct{}

type pollConn struct{ fd *sockFD }

func (srv *Server) polling() bool { return false }

func (srv *Server) pollerFor() *poller { return nil }

func (srv *Server) stopPollers() {}

func (p *poller) add(*wsConn) error { return nil }
func (p *poller) arm(*wsConn)       {}
func (p *poller) remove(*wsConn)    {}
