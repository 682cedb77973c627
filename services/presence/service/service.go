// Package service wires the presence worker: the state store (in memory,
// or in Redis with WithRedis), the fan-out publisher, the use cases and one
// Watermill handler per trigger topic. The same wiring serves the
// standalone binary, the edge's embedded mode and the component tests.
package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/redis/go-redis/v9"

	"realtime/pkg/bus"
	"realtime/services/presence/internal/adapters"
	"realtime/services/presence/internal/adapters/redisstore"
	"realtime/services/presence/internal/app"
	"realtime/services/presence/internal/domain"
	"realtime/services/presence/internal/ports"
)

// dedupeWindow is how long an event id is remembered to drop redeliveries.
// The handlers are idempotent anyway (set membership, last position, event
// times that make stale membership events harmless); dropping duplicates
// saves repeated fan-out messages, so only the events that send one keep
// their ids (see the ports package). The ids are kept in this process, or
// in Redis, shared by every instance, with WithRedis.
const dedupeWindow = 2 * time.Minute

// Service is the presence worker.
type Service struct {
	cfg     Config
	log     *slog.Logger
	state   string // where the state lives: memory or redis
	app     *app.App
	router  *message.Router
	running chan struct{}
	started atomic.Bool
}

// Option changes how New wires the service.
type Option func(*options)

type options struct {
	redis  redis.UniversalClient
	prefix string
}

// WithRedis keeps the presence state (memberships, counts, edge leases,
// positions) in Redis under the keys "presence:*", and the handled event
// ids under "dedupe:presence:*", so that every presence instance shares
// them and a restarted one goes on with the same counts. The caller owns
// client and closes it after Run returned.
func WithRedis(client redis.UniversalClient) Option {
	return func(o *options) { o.redis = client }
}

// WithKeyPrefix puts every Redis key of WithRedis under prefix as well
// (prefix + "presence:..."), for two deployments or test runs that share
// one Redis. On Redis Cluster it must carry a hash tag, such as "{rt}:",
// so that each script's keys share one slot.
func WithKeyPrefix(prefix string) Option {
	return func(o *options) { o.prefix = prefix }
}

// New builds the service on b. It subscribes nothing until Run. Without
// options the state lives in this process (embedded mode).
func New(cfg Config, b *bus.Bus, logger *slog.Logger, opts ...Option) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	settings := domain.Settings{DefaultLease: cfg.EdgeTTL, DedupeWindow: dedupeWindow}
	var (
		store  app.Store
		dedupe bus.DedupeStore
		state  string
	)
	if o.redis != nil {
		// Joins record their ids in their own script, beside the others'.
		marks := o.prefix + "dedupe:presence:"
		store = redisstore.New(o.redis, o.prefix+"presence:", settings, redisstore.WithMarksUnder(marks))
		dedupe = bus.NewRedisDedupe(o.redis, marks, dedupeWindow)
		state = "redis"
	} else {
		store = adapters.NewMemoryStore(settings)
		dedupe = bus.NewMemoryDedupe(dedupeWindow)
		state = "memory"
	}
	a, err := app.New(app.Config{
		CountInterval: cfg.CountInterval,
		EdgeTTL:       cfg.EdgeTTL,
		SweepInterval: cfg.SweepInterval,
		ExpiryGuard:   cfg.ExpiryGuard,
		Shared:        o.redis != nil,
	}, store, adapters.NewFanoutPublisher(b.Fanout.Publisher()), logger)
	if err != nil {
		return nil, err
	}
	router, err := b.NewRouter()
	if err != nil {
		return nil, fmt.Errorf("presence: router: %w", err)
	}
	for _, t := range ports.NewHandlers(a, dedupe, bus.DedupeLogger(logger)).Triggers() {
		sub, err := bus.SubscriberInFlight(b.Domain, t.Name, t.InFlight, t.OrderKey)
		if err != nil {
			return nil, fmt.Errorf("presence: subscriber %s: %w", t.Name, err)
		}
		router.AddConsumerHandler(t.Name, t.Topic, sub, t.Handle)
	}
	return &Service{cfg: cfg, log: logger, state: state, app: a, router: router, running: make(chan struct{})}, nil
}

// Running is closed once every handler is subscribed: events published
// after that are handled.
func (s *Service) Running() <-chan struct{} { return s.running }

// Run handles events and runs the count broadcasts and lease sweeps until
// ctx ends, and returns after all of it stopped (in-flight events are
// finished). It returns nil after ctx ends, an error if the service could
// not start or its handlers stopped on their own. Run may be called once.
func (s *Service) Run(ctx context.Context) error {
	if !s.started.CompareAndSwap(false, true) {
		return errors.New("presence: Run called twice")
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	routerDone := make(chan error, 1)
	go func() { routerDone <- s.router.Run(ctx) }()
	select {
	case <-s.router.Running():
	case err := <-routerDone:
		return fmt.Errorf("presence: router: %w", err)
	}

	var loop sync.WaitGroup
	loop.Go(func() { s.app.Run(ctx) })
	s.log.Info("presence running",
		"state", s.state,
		"count_interval", s.cfg.CountInterval.String(),
		"edge_ttl", s.cfg.EdgeTTL.String(),
		"sweep_interval", s.cfg.SweepInterval.String())
	close(s.running)

	var err error
	select {
	case <-ctx.Done():
		err = <-routerDone
	case err = <-routerDone:
		if err == nil && ctx.Err() == nil {
			err = errors.New("presence: handlers stopped")
		}
	}
	cancel()
	loop.Wait()
	if err != nil {
		return fmt.Errorf("presence: router: %w", err)
	}
	return nil
}
