//go:build !linux

package engineio

// Without epoll, each WebSocket connection is read by a goroutine of its
// own (Session.readLoop).
type poller struct{}

func (srv *Server) polling() bool { return false }

func (srv *Server) pollerFor() *poller { return nil }

func (srv *Server) stopPollers() {}

func (p *poller) add(*Session) error { return nil }
func (p *poller) arm(*Session)       {}
func (p *poller) remove(*Session)    {}
