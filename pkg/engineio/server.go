package engineio

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
)

// Server is an Engine.IO v4 endpoint. Mount it on the path clients use
// (for Socket.IO, "/socket.io/"); it answers every request below it.
type Server struct {
	cfg     Config
	handler Handler
	stats   Stats

	heartbeats *heartbeats

	mu       sync.RWMutex
	sessions map[string]*Session

	shuttingDown atomic.Bool

	// Pollers reading the WebSocket connections; started on first use,
	// stopped by Shutdown or Close.
	pollMu     sync.Mutex
	pollers    []*poller
	pollNext   uint32
	pollClosed bool
	// ww watches descriptors that the kernel takes no more writes on; set
	// once, with the pollers.
	ww *writeWaiter

	flushers  []*flusher
	flushNext atomic.Uint32
}

// NewServer returns a server that reports every session to h.
func NewServer(cfg Config, h Handler) *Server {
	cfg = cfg.withDefaults()
	return &Server{
		cfg:        cfg,
		handler:    h,
		sessions:   make(map[string]*Session),
		heartbeats: newHeartbeats(cfg.PingInterval, cfg.PingTimeout),
		flushers:   newFlushers(),
	}
}

// Stats returns the server's live counters.
func (srv *Server) Stats() *Stats { return &srv.stats }

// Config returns the effective configuration (defaults applied).
func (srv *Server) Config() Config { return srv.cfg }

// Session returns the open session with the given id, or nil.
func (srv *Server) Session(id string) *Session {
	srv.mu.RLock()
	defer srv.mu.RUnlock()
	return srv.sessions[id]
}

func (srv *Server) remove(s *Session) {
	srv.mu.Lock()
	if srv.sessions[s.id] == s {
		delete(srv.sessions, s.id)
		srv.stats.Sessions.Add(-1)
	}
	srv.mu.Unlock()
}

// Shutdown refuses new sessions and closes every open one, telling each
// client, so that clients reconnect (to another instance behind the load
// balancer), then stops the goroutines that read WebSocket connections. It
// returns when every session is closed or ctx ends.
func (srv *Server) Shutdown(ctx context.Context) error {
	srv.shuttingDown.Store(true)
	defer srv.stopPollers()
	srv.mu.RLock()
	open := make([]*Session, 0, len(srv.sessions))
	for _, s := range srv.sessions {
		open = append(open, s)
	}
	srv.mu.RUnlock()
	for _, s := range open {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		s.close(ReasonShutdown, closeMessage)
	}
	return ctx.Err()
}

// Close is Shutdown without a deadline.
func (srv *Server) Close() error { return srv.Shutdown(context.Background()) }

// Protocol error codes and messages, as the reference server sends them.
const (
	errTransportUnknown   = 0
	errUnknownSID         = 1
	errBadHandshakeMethod = 2
	errBadRequest         = 3
	errForbidden          = 4
	errUnsupportedVersion = 5
)

var errorMessages = [...]string{
	"Transport unknown",
	"Session ID unknown",
	"Bad handshake method",
	"Bad request",
	"Forbidden",
	"Unsupported protocol version",
}

func (srv *Server) fail(w http.ResponseWriter, status, code int) {
	srv.stats.BadRequests.Add(1)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(`{"code":` + strconv.Itoa(code) + `,"message":"` + errorMessages[code] + `"}`))
}

// ServeHTTP dispatches a request to the handshake, a polling transport or a
// WebSocket transport.
func (srv *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	origin := r.Header.Get("Origin")
	if !srv.cfg.originAllowed(origin) {
		srv.fail(w, http.StatusForbidden, errForbidden)
		return
	}
	if origin != "" {
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", origin)
		h.Set("Access-Control-Allow-Credentials", "true")
		h.Add("Vary", "Origin")
	}
	if r.Method == http.MethodOptions {
		h := w.Header()
		h.Set("Access-Control-Allow-Methods", "GET, POST")
		if rh := r.Header.Get("Access-Control-Request-Headers"); rh != "" {
			h.Set("Access-Control-Allow-Headers", rh)
		}
		w.WriteHeader(http.StatusNoContent)
		return
	}

	q := r.URL.Query()
	if q.Get("EIO") != "4" {
		srv.fail(w, http.StatusBadRequest, errUnsupportedVersion)
		return
	}
	transport := q.Get("transport")
	if transport != "polling" && transport != "websocket" {
		srv.fail(w, http.StatusBadRequest, errTransportUnknown)
		return
	}
	sid := q.Get("sid")
	if sid == "" {
		if srv.shuttingDown.Load() {
			http.Error(w, "shutting down", http.StatusServiceUnavailable)
			return
		}
		if transport == "websocket" {
			srv.openWebSocket(w, r)
			return
		}
		if r.Method != http.MethodGet {
			srv.fail(w, http.StatusBadRequest, errBadHandshakeMethod)
			return
		}
		srv.openPolling(w, r)
		return
	}

	s := srv.Session(sid)
	if s == nil {
		srv.fail(w, http.StatusBadRequest, errUnknownSID)
		return
	}
	if transport == "websocket" {
		srv.upgradeWebSocket(w, r, s)
		return
	}
	switch r.Method {
	case http.MethodGet:
		srv.servePoll(w, r, s)
	case http.MethodPost:
		srv.serveData(w, r, s)
	default:
		srv.fail(w, http.StatusBadRequest, errBadRequest)
	}
}

// newSession registers a session on transport t and returns it with its
// open packet; the caller writes the packet, then calls begin.
func (srv *Server) newSession(r *http.Request, t transportKind) (*Session, []byte) {
	s := &Session{
		id:        newID(),
		srv:       srv,
		hs:        newHandshake(r),
		transport: t,
		flIdx:     srv.flushNext.Add(1) % uint32(len(srv.flushers)),
	}
	if t == transportPolling {
		// Only polling GETs, POSTs and the upgrade need it; a session
		// opened on WebSocket never has one (unless its connection stays
		// a net.Conn: attachLocked).
		s.x = &sessionExtra{pollWake: make(chan struct{}, 1)}
	}
	srv.mu.Lock()
	srv.sessions[s.id] = s
	srv.mu.Unlock()
	srv.stats.Sessions.Add(1)
	srv.stats.Handshakes.Add(1)
	return s, srv.openPacket(s.id, t == transportPolling)
}

// begin hands the session to the handler and starts its heartbeat. A
// session closed before begin (server shutdown) is never shown to the
// handler; one closed while OnOpen runs gets its OnClose once OnOpen has
// returned, never before or during it.
func (srv *Server) begin(s *Session) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.open = openRunning
	s.mu.Unlock()
	srv.handler.OnOpen(s)
	s.mu.Lock()
	s.open = openDone
	late := s.lateClose
	s.mu.Unlock()
	if late != 0 {
		srv.handler.OnClose(s, closeReasons[late-1])
		return
	}
	s.startHeartbeat()
}

// openPacket encodes the handshake with exactly the keys the protocol names;
// `upgrades` is never null.
func (srv *Server) openPacket(sid string, polling bool) []byte {
	b := make([]byte, 0, 128)
	b = append(b, '0')
	b = append(b, `{"sid":"`...)
	b = append(b, sid...)
	if polling {
		b = append(b, `","upgrades":["websocket"],"pingInterval":`...)
	} else {
		b = append(b, `","upgrades":[],"pingInterval":`...)
	}
	b = strconv.AppendInt(b, srv.cfg.PingInterval.Milliseconds(), 10)
	b = append(b, `,"pingTimeout":`...)
	b = strconv.AppendInt(b, srv.cfg.PingTimeout.Milliseconds(), 10)
	b = append(b, `,"maxPayload":`...)
	b = strconv.AppendInt(b, int64(srv.cfg.MaxPayload), 10)
	return append(b, '}')
}

// newID returns 20 URL-safe characters from 120 random bits.
func newID() string {
	var b [15]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}
