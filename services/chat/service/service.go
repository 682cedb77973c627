// Package service builds the chat worker: live-chat messages (cleaned,
// validated, rate-limited per user, given an id and a server timestamp, in
// order per video) and typing indicators. The same wiring runs as its own
// process (services/chat/main.go), inside the edge in embedded mode, and in
// component tests.
package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/redis/go-redis/v9"

	"realtime/contracts"
	"realtime/pkg/bus"
	"realtime/services/chat/internal/adapters/fanout"
	"realtime/services/chat/internal/adapters/memory"
	"realtime/services/chat/internal/adapters/redisstore"
	"realtime/services/chat/internal/app"
	"realtime/services/chat/internal/domain"
	"realtime/services/chat/internal/ports"
)

// ConsumerGroup is the chat workers' consumer group on the domain topics:
// the instances share realtime.chat's partitions.
const ConsumerGroup = "chat"

// DedupeRetention is how long a handled event id is remembered; it covers
// the redeliveries of a consumer-group rebalance.
const DedupeRetention = 10 * time.Minute

// rateWindow is the rate limit's window: CHAT_RATE_PER_MIN is per minute.
const rateWindow = time.Minute

// DefaultKeyPrefix prefixes every Redis key of the chat worker.
const DefaultKeyPrefix = "chat:"

// Option changes how New builds the worker.
type Option func(*options)

type options struct {
	redis  redis.UniversalClient
	prefix string
}

// WithRedis keeps the worker's state in Redis instead of process memory:
// the rate-limit windows (<prefix>rate:<userId>) and the handled event ids
// (<prefix>processed:<eventId>), shared by every chat instance on the same
// Redis and prefix. Required as soon as more than one chat instance runs: a
// user's messages to different videos land on different partitions, so on
// different instances. The caller owns client and closes it after Run
// returned. A nil client keeps the memory stores.
func WithRedis(client redis.UniversalClient) Option {
	return func(o *options) { o.redis = client }
}

// WithKeyPrefix replaces DefaultKeyPrefix, so that two deployments (or two
// tests) can share one Redis. It matters only with WithRedis.
func WithKeyPrefix(prefix string) Option {
	return func(o *options) { o.prefix = prefix }
}

// Service is one chat worker instance.
type Service struct {
	router  *message.Router
	log     *slog.Logger
	started atomic.Bool
}

// New wires a chat worker on b. It subscribes nothing yet: Run does. Its
// state is in process memory, right for one instance (embedded mode),
// unless WithRedis is given.
func New(cfg Config, b *bus.Bus, logger *slog.Logger, opts ...Option) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	reg, err := contracts.Load()
	if err != nil {
		return nil, fmt.Errorf("chat: %w", err)
	}
	router, err := b.NewRouter()
	if err != nil {
		return nil, fmt.Errorf("chat: router: %w", err)
	}
	sub, err := b.Domain.Subscriber(ConsumerGroup)
	if err != nil {
		return nil, fmt.Errorf("chat: subscriber: %w", err)
	}

	o := options{prefix: DefaultKeyPrefix}
	for _, opt := range opts {
		opt(&o)
	}
	rule := domain.RateLimit{Max: cfg.RatePerMin, Window: rateWindow}
	var (
		limiter   app.RateLimiter
		processed ports.ProcessedEvents
		state     = "memory"
	)
	if o.redis != nil {
		limiter = redisstore.NewRateLimiter(o.redis, o.prefix, rule)
		processed = redisstore.NewProcessedEvents(o.redis, o.prefix, DedupeRetention)
		state = "redis"
	} else {
		limiter = memory.NewRateLimiter(rule)
		processed = memory.NewProcessedEvents(DedupeRetention)
	}

	application := app.New(limiter, fanout.NewPublisher(b.Fanout.Publisher()), time.Now, cfg.MaxLength)
	ports.NewEvents(application, reg, processed, time.Now, logger).Register(router, sub)

	logger.Info("chat worker configured", "config", cfg, "state", state)
	return &Service{router: router, log: logger}, nil
}

// Run subscribes the handlers and handles events until ctx is done, then
// returns once in-flight events are finished and the router has stopped.
// It returns nil after ctx ended, and an error if the router could not
// start or stopped on its own (its subscription was closed). Run may be
// called once.
func (s *Service) Run(ctx context.Context) error {
	if !s.started.CompareAndSwap(false, true) {
		return errors.New("chat: Run called twice")
	}
	// The router stops when ctx ends: its subscriptions end with ctx and a
	// router whose handlers all stopped closes itself. Router.Close is not
	// called directly on purpose: it also closes the subscriber, which in
	// embedded mode is the bus that every service shares.
	if err := s.router.Run(ctx); err != nil {
		return fmt.Errorf("chat: %w", err)
	}
	if ctx.Err() == nil {
		return errors.New("chat: router stopped: its subscription ended")
	}
	s.log.Info("chat worker stopped")
	return nil
}

// Running is closed once the handlers are subscribed: events published
// after that are handled. It is never closed if Run fails to start, so
// wait on it together with Run's result.
func (s *Service) Running() <-chan struct{} { return s.router.Running() }
