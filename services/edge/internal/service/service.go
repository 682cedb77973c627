// Package service wires the edge together. New builds the same application
// for production (main.go) and for component tests, so tests exercise the
// real wiring rather than a look-alike.
package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"realtime/contracts"
	"realtime/pkg/auth"
	"realtime/pkg/bus"
	"realtime/pkg/engineio"
	"realtime/pkg/profiling"
	"realtime/pkg/socketio"
	"realtime/services/edge/internal/adapters"
	"realtime/services/edge/internal/app"
	"realtime/services/edge/internal/config"
	"realtime/services/edge/internal/identity"
	"realtime/services/edge/internal/ports"
	"realtime/services/edge/internal/telemetry"
)

// minHMACSecret is the HS256 key size RFC 7518 §3.2 asks for (256 bits).
const minHMACSecret = 32

// Service is one edge process: the Socket.IO endpoint plus its HTTP routes.
type Service struct {
	cfg      config.Config
	log      *slog.Logger
	sockets  *socketio.Server
	handler  http.Handler
	app      *app.App
	outbox   *app.Outbox
	router   *message.Router
	delivery *adapters.Delivery
}

// dedupeWindow is how many recent fan-out ids an edge remembers to drop
// redeliveries.
const dedupeWindow = 8192

// New builds the service from cfg on bus b. It starts nothing: Run (or
// Serve) does.
func New(ctx context.Context, cfg config.Config, b *bus.Bus, log *slog.Logger) (*Service, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	verifier, err := newVerifier(cfg, log)
	if err != nil {
		return nil, err
	}

	sockets := socketio.NewServer(socketio.Config{
		Config: engineio.Config{
			PingInterval:   cfg.PingInterval,
			PingTimeout:    cfg.PingTimeout,
			MaxPayload:     cfg.MaxPayload,
			AllowedOrigins: cfg.CORSOrigins,
			Logger:         log.With("component", "socketio"),
		},
		ConnectTimeout: cfg.ConnectTimeout,
	})

	reg, err := contracts.Load()
	if err != nil {
		return nil, fmt.Errorf("contracts: %w", err)
	}
	// Membership events are published asynchronously, in order per socket;
	// the in-memory bus gets the same outbox, so that what component tests
	// exercise is what runs on Kafka.
	outbox := app.NewOutbox(b.Domain.Publisher(), app.OutboxConfig{
		Shards:   cfg.OutboxShards,
		Capacity: cfg.OutboxCapacity,
	}, log.With("component", "outbox"))
	ob := outbox.Stats()
	metrics := telemetry.New(sockets.Stats(), telemetry.Outbox{
		Queued:    ob.Queued.Load,
		Published: ob.Published.Load,
		Failures:  ob.Failures.Load,
		Refused:   ob.Refused.Load,
		Dropped:   ob.Dropped.Load,
	})
	uses := app.New(b.Domain.Publisher(), cfg.InstanceID, outbox)
	nsp := sockets.Of("/")
	authn := identity.NewAuthenticator(verifier, cfg.AuthRequired)
	ports.NewSocketHandlers(authn, metrics, log.With("component", "sockets")).Register(nsp)
	ports.NewEventHandlers(uses, reg, log.With("component", "events")).Register(nsp)

	delivery := adapters.NewDelivery(nsp, dedupeWindow, log.With("component", "fanout"))
	router, err := b.NewRouter()
	if err != nil {
		return nil, err
	}
	sub, err := b.Fanout.Subscriber("edge." + cfg.InstanceID)
	if err != nil {
		return nil, fmt.Errorf("fan-out subscriber: %w", err)
	}
	// Two streams, one delivery: the shared stream carries what may
	// concern any edge (rooms, users, all, and socket targets from
	// producers that do not name the edge); this edge's own stream the
	// messages for one of its sockets, which no other edge reads.
	router.AddConsumerHandler("edge.fanout", contracts.TopicFanout, sub, delivery.Handle)
	router.AddConsumerHandler("edge.fanout.own", contracts.EdgeFanoutTopic(cfg.InstanceID), sub, delivery.Handle)

	var platformEvents http.Handler
	if cfg.AdminToken != "" {
		platformEvents = ports.PlatformEvents(cfg.AdminToken, reg, uses, log.With("component", "internal-events"))
	}
	stats := sockets.Stats()
	handler := ports.NewRouter(ports.RouterDeps{
		Socket:         sockets,
		Metrics:        metrics.Handler(),
		Connections:    stats.Sessions.Load,
		PlatformEvents: platformEvents,
	})
	return &Service{
		cfg: cfg, log: log, sockets: sockets, handler: handler,
		app: uses, outbox: outbox, router: router, delivery: delivery,
	}, nil
}

// newVerifier returns nil (a nil interface, not a typed nil pointer) when no
// key is configured: the edge then treats every client as anonymous.
func newVerifier(cfg config.Config, log *slog.Logger) (identity.TokenVerifier, error) {
	if cfg.JWTSecret == "" && cfg.JWTPublicKey == "" {
		log.Warn("no JWT_SECRET or JWT_PUBLIC_KEY configured: every connection is anonymous")
		return nil, nil
	}
	if cfg.JWTSecret != "" && len(cfg.JWTSecret) < minHMACSecret {
		log.Warn("JWT_SECRET is shorter than 32 bytes; HS256 tokens signed with it are easy to brute-force")
	}
	v, err := auth.NewVerifier(auth.Config{
		HMACSecret:   cfg.JWTSecret,
		RSAPublicKey: cfg.JWTPublicKey,
		Issuer:       cfg.JWTIssuer,
		Audience:     cfg.JWTAudience,
	})
	if err != nil {
		return nil, fmt.Errorf("JWT configuration: %w", err)
	}
	return v, nil
}

// heartbeat renews this edge's lease until ctx ends.
func (s *Service) heartbeat(ctx context.Context) {
	t := time.NewTicker(s.cfg.HeartbeatInterval)
	defer t.Stop()
	for {
		hctx, cancel := context.WithTimeout(ctx, s.cfg.HeartbeatInterval)
		err := s.app.Heartbeat(hctx, s.cfg.EdgeTTL, int(s.sockets.Stats().Sessions.Load()))
		cancel()
		if err != nil && ctx.Err() == nil {
			s.log.Warn("edge heartbeat not published", "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Handler is the service's whole HTTP surface, for httptest servers.
func (s *Service) Handler() http.Handler { return s.handler }

// Sockets is the Socket.IO server, for tests that inspect connected sockets.
func (s *Service) Sockets() *socketio.Server { return s.sockets }

// OutboxStats are the counters of the membership-event outbox.
func (s *Service) OutboxStats() *app.OutboxStats { return s.outbox.Stats() }

// Run listens on the configured address and serves until ctx ends, then
// shuts down gracefully (see Serve).
func (s *Service) Run(ctx context.Context) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", s.cfg.Addr())
	if err != nil {
		return fmt.Errorf("listen on %s: %w", s.cfg.Addr(), err)
	}
	if s.cfg.PprofAddr != "" {
		stop, err := profiling.Serve(ctx, s.cfg.PprofAddr, s.log)
		if err != nil {
			_ = ln.Close()
			return err
		}
		defer stop()
	}
	return s.Serve(ctx, ln)
}

// Serve serves on ln until ctx ends. Then it stops accepting connections,
// closes every socket session so clients reconnect to another edge, waits
// for in-flight requests, and publishes the membership events still
// queued (the sessions just closed among them), all bounded by
// SHUTDOWN_TIMEOUT. It returns nil after a clean shutdown.
func (s *Service) Serve(ctx context.Context, ln net.Listener) error {
	// Fan-out must flow before the first client joins a room.
	routerCtx, stopRouter := context.WithCancel(context.WithoutCancel(ctx))
	defer stopRouter()
	routerDone := make(chan error, 1)
	go func() { routerDone <- s.router.Run(routerCtx) }()
	select {
	case <-s.router.Running():
	case err := <-routerDone:
		return fmt.Errorf("fan-out router: %w", err)
	case <-ctx.Done():
		stopRouter()
		<-routerDone
		_ = s.outbox.Shutdown(context.Background()) // never ran: nothing to wait for
		return nil
	}
	// The outbox outlives ctx: Shutdown below drains it, then it stops.
	s.outbox.Start(context.WithoutCancel(ctx))
	// Its own context: when the listener fails on its own, ctx is still
	// live and Serve must not wait for it.
	hbCtx, stopHeartbeat := context.WithCancel(ctx)
	heartbeatDone := make(chan struct{})
	go func() {
		defer close(heartbeatDone)
		s.heartbeat(hbCtx)
	}()
	defer func() {
		stopHeartbeat()
		<-heartbeatDone
		// Close, not just the context: Run can return before the router
		// has logged its last line, Close only after it, so nothing of
		// the router outlives Serve.
		if err := s.router.Close(); err != nil {
			s.log.Warn("fan-out router did not close cleanly", "error", err)
		}
		stopRouter()
		if err := <-routerDone; err != nil {
			s.log.Warn("fan-out router stopped with an error", "error", err)
		}
	}()

	srv := &http.Server{
		Handler: s.handler,
		// Slow-header clients must not pin connections; long-poll GETs
		// and WebSockets are not affected (headers arrive at once).
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	s.log.Info("edge listening", "addr", ln.Addr().String(), "config", s.cfg)

	select {
	case err := <-serveErr:
		// The listener failed on its own: close the sessions, publish
		// their session.closed, and stop.
		_ = s.sockets.Shutdown(context.Background())
		octx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.ShutdownTimeout)
		defer cancel()
		if oerr := s.outbox.Shutdown(octx); oerr != nil {
			s.log.Error("membership events lost", "error", oerr)
		}
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}

	s.log.Info("edge shutting down", "timeout", s.cfg.ShutdownTimeout.String())
	start := time.Now()
	// WithoutCancel: ctx is already done, the deadline alone bounds shutdown.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.ShutdownTimeout)
	defer cancel()

	// http.Server.Shutdown closes the listener first, then waits for
	// in-flight requests; pending long-poll GETs only finish once their
	// sessions are closed, so both must run at the same time.
	httpDone := make(chan error, 1)
	go func() { httpDone <- srv.Shutdown(sctx) }()
	socketErr := s.sockets.Shutdown(sctx)
	httpErr := <-httpDone
	if httpErr != nil {
		// Deadline passed with requests still running: cut them off.
		_ = srv.Close()
	}
	<-serveErr // always http.ErrServerClosed after Shutdown/Close

	// No socket is left to queue anything: publish what is queued, within
	// what is left of the deadline. The bus is closed by the caller, after.
	outboxErr := s.outbox.Shutdown(sctx)
	stats := s.outbox.Stats()
	s.log.Info("membership events published", "total", stats.Published.Load(), "dropped", stats.Dropped.Load(), "refused", stats.Refused.Load())

	if err := errors.Join(socketErr, httpErr, outboxErr); err != nil {
		s.log.Error("edge shutdown incomplete", "error", err, "took", time.Since(start).String())
		return fmt.Errorf("shutdown: %w", err)
	}
	s.log.Info("edge stopped", "took", time.Since(start).String())
	return nil
}
