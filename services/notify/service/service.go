// Package service wires the notify worker: the worker that owns
// per-user notifications, channel subscriptions and read receipts, and
// relays platform events (views, likes, comments, uploads, notifications)
// to the clients that should see them.
//
// New builds the same worker for the standalone process (main.go), for the
// edge's embedded mode and for component tests.
package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/redis/go-redis/v9"

	"realtime/contracts"
	"realtime/pkg/bus"
	"realtime/services/notify/internal/adapters"
	"realtime/services/notify/internal/app"
	"realtime/services/notify/internal/ports"
)

// DefaultKeyPrefix prefixes every Redis key of the notify worker.
const DefaultKeyPrefix = "notify:"

// Option changes how New builds the worker.
type Option func(*options)

type options struct {
	redis  redis.UniversalClient
	prefix string
}

// WithRedis keeps the worker's state in Redis instead of process memory,
// shared by every notify instance on the same Redis and prefix: channel
// subscriptions (<prefix>subs:<userId>), read receipts
// (<prefix>read:<userId>, kept NOTIFY_READ_TTL) and the ids of handled
// events (<prefix>dedupe:<handler>:<eventId>, kept NOTIFY_DEDUPE_WINDOW).
// The caller owns client and closes it after Run returned. A nil client
// keeps the memory stores.
func WithRedis(client redis.UniversalClient) Option {
	return func(o *options) { o.redis = client }
}

// WithKeyPrefix replaces DefaultKeyPrefix, so that two deployments (or two
// tests) can share one Redis. It matters only with WithRedis.
func WithKeyPrefix(prefix string) Option {
	return func(o *options) { o.prefix = prefix }
}

// Service is one notify worker: a Watermill router with one handler per
// trigger (realtime.user, platform.events), publishing to realtime.fanout.
type Service struct {
	cfg     Config
	state   string // where the state is: memory or redis
	log     *slog.Logger
	router  *message.Router
	app     *app.Application
	metrics *ports.Metrics
}

// New builds the worker on b. It subscribes to nothing yet: Run does.
// logger is used as given; the caller tags it (service=notify). Its state
// is in process memory, right for one instance (embedded mode), unless
// WithRedis is given.
func New(cfg Config, b *bus.Bus, logger *slog.Logger, opts ...Option) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if b == nil || logger == nil {
		return nil, errors.New("notify: New needs a bus and a logger")
	}
	reg, err := contracts.Load()
	if err != nil {
		return nil, fmt.Errorf("notify: load contracts: %w", err)
	}
	o := options{prefix: DefaultKeyPrefix}
	for _, opt := range opts {
		opt(&o)
	}
	var (
		store     app.Store = adapters.NewMemoryStore()
		newDedupe           = func(string) bus.DedupeStore { return bus.NewMemoryDedupe(cfg.DedupeWindow) }
	)
	if o.redis != nil {
		store = adapters.NewRedisStore(o.redis, o.prefix, cfg.ReadTTL)
		newDedupe = func(handler string) bus.DedupeStore {
			return bus.NewRedisDedupe(o.redis, o.prefix+"dedupe:"+handler+":", cfg.DedupeWindow)
		}
	}
	application := app.New(
		store,
		adapters.NewFanoutPublisher(b.Fanout.Publisher()),
		bus.NewID,
	)
	metrics := &ports.Metrics{}
	router, err := b.NewRouter()
	if err != nil {
		return nil, fmt.Errorf("notify: router: %w", err)
	}
	if err := ports.NewHandlers(application, reg, logger, metrics).Register(router, b, newDedupe); err != nil {
		return nil, fmt.Errorf("notify: %w", err)
	}
	state := "memory"
	if o.redis != nil {
		state = "redis"
	}
	return &Service{cfg: cfg, state: state, log: logger, router: router, app: application, metrics: metrics}, nil
}

// Run subscribes the handlers and handles events until ctx is done, then
// lets in-flight events finish (bounded by the router's close timeout) and
// returns once every handler has stopped. It returns an error if the
// subscriptions end before ctx does (the bus was closed under it). Run may
// be called once.
func (s *Service) Run(ctx context.Context) error {
	s.log.Info("notify starting", "config", s.cfg, "state", s.state)
	if err := s.router.Run(ctx); err != nil {
		return fmt.Errorf("notify: %w", err)
	}
	if ctx.Err() == nil {
		return errors.New("notify: stopped before its context ended: its subscriptions were closed")
	}
	s.log.Info("notify stopped")
	return nil
}

// Running is closed once every handler is subscribed: events published
// after that are handled. If Run fails to subscribe it is never closed, so
// wait on it together with Run's result.
func (s *Service) Running() <-chan struct{} { return s.router.Running() }

// Stats is a snapshot of the worker's counters, for metrics and tests.
type Stats struct {
	PlatformRelayed  uint64 // platform events relayed to clients
	PlatformRejected uint64 // invalid or unknown platform events (parked on the poison queue)
	UserHandled      uint64 // subscription and read-receipt events applied
	UserIgnored      uint64 // realtime.user events meant for other workers
	UserRejected     uint64 // invalid subscription or read-receipt events (parked)
	Duplicates       uint64 // redelivered events dropped
}

// Stats returns the counters.
func (s *Service) Stats() Stats {
	m := s.metrics
	return Stats{
		PlatformRelayed:  m.PlatformRelayed.Load(),
		PlatformRejected: m.PlatformRejected.Load(),
		UserHandled:      m.UserHandled.Load(),
		UserIgnored:      m.UserIgnored.Load(),
		UserRejected:     m.UserRejected.Load(),
		Duplicates:       m.Duplicates.Load(),
	}
}

// Subscriptions returns the channels a user follows (from the store, the
// durable record of notifications:subscribe).
func (s *Service) Subscriptions(ctx context.Context, userID string) ([]string, error) {
	return s.app.Subscriptions(ctx, userID)
}

// IsRead reports whether a user marked a notification read.
func (s *Service) IsRead(ctx context.Context, userID, notificationID string) (bool, error) {
	return s.app.IsRead(ctx, userID, notificationID)
}
