package socketio

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"realtime/pkg/engineio"
)

// Config holds the settings of a Server.
type Config struct {
	engineio.Config
	// ConnectTimeout closes a connection that joins no namespace in time.
	ConnectTimeout time.Duration
}

// Server is a Socket.IO server. It is an http.Handler; mount it at the
// path clients use (by default "/socket.io/").
type Server struct {
	eio            *engineio.Server
	connectTimeout time.Duration
	log            *slog.Logger

	mu   sync.RWMutex
	nsps map[string]*Namespace
}

// NewServer returns a server with the main namespace "/" already created.
func NewServer(cfg Config) *Server {
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = 45 * time.Second
	}
	s := &Server{connectTimeout: cfg.ConnectTimeout, nsps: make(map[string]*Namespace)}
	s.eio = engineio.NewServer(cfg.Config, s)
	s.log = s.eio.Config().Logger
	s.Of("/")
	return s
}

// ServeHTTP serves the Engine.IO transports.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.eio.ServeHTTP(w, r) }

// Stats returns the transport counters.
func (s *Server) Stats() *engineio.Stats { return s.eio.Stats() }

// Shutdown closes every connection at the transport level, so that clients
// reconnect on their own (to another instance), and refuses new ones.
func (s *Server) Shutdown(ctx context.Context) error { return s.eio.Shutdown(ctx) }

// Of returns the namespace with the given name, creating it if needed.
func (s *Server) Of(name string) *Namespace {
	if name == "" {
		name = "/"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n, ok := s.nsps[name]
	if !ok {
		n = newNamespace(s, name)
		s.nsps[name] = n
	}
	return n
}

func (s *Server) namespace(name string) *Namespace {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.nsps[name]
}

// OnOpen implements engineio.Handler.
func (s *Server) OnOpen(sess *engineio.Session) {
	c := &client{srv: s, sess: sess}
	sess.SetData(c)
	c.mu.Lock()
	c.connectTimer = time.AfterFunc(s.connectTimeout, c.onConnectTimeout)
	c.mu.Unlock()
}

// OnMessage implements engineio.Handler.
func (s *Server) OnMessage(sess *engineio.Session, data []byte, binary bool) {
	sess.Data().(*client).onMessage(data, binary)
}

// OnClose implements engineio.Handler.
func (s *Server) OnClose(sess *engineio.Session, reason string) {
	sess.Data().(*client).onClose(reason)
}
