// Package bus wires the two message roles of the service on Watermill:
// the domain-event role (Kafka in distributed mode: partition keys,
// consumer groups per service) and the fan-out role (Redis Streams in
// distributed mode: every edge receives every message). The transport is
// chosen once, at wiring time; business code only sees Watermill's
// Publisher and Subscriber.
package bus

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"
)

// KeyMetadata is the message metadata that holds the partition key.
const KeyMetadata = "partition_key"

// TopicPoison receives messages that failed every retry.
const TopicPoison = "realtime.poison"

// Transport is one role's publisher and subscribers.
type Transport interface {
	Publisher() message.Publisher
	// Subscriber returns a subscriber for a consumer group. In the
	// domain role instances of one group share the work; the fan-out role
	// ignores the group: every subscriber receives every message.
	Subscriber(group string) (message.Subscriber, error)
	Close() error
}

// Bus holds both roles.
type Bus struct {
	Domain Transport
	Fanout Transport
	Logger watermill.LoggerAdapter
}

// NewMemory returns the embedded bus: both roles in process memory (see
// memory), for `make run`, unit and component tests.
func NewMemory(logger *slog.Logger) *Bus {
	return &Bus{Domain: newMemory(), Fanout: newMemory(), Logger: watermill.NewSlogLogger(logger)}
}

// Close closes both roles.
func (b *Bus) Close() error {
	return errors.Join(b.Domain.Close(), b.Fanout.Close())
}

// NewRouter returns a router with the standard middleware, outermost
// first: correlation id, poison queue (a message that fails every retry is
// parked on TopicPoison instead of blocking its partition), retry with
// backoff, and a recoverer that turns a panic into an error.
func (b *Bus) NewRouter() (*message.Router, error) {
	r, err := message.NewRouter(message.RouterConfig{CloseTimeout: 10 * time.Second}, b.Logger)
	if err != nil {
		return nil, err
	}
	poison, err := middleware.PoisonQueue(b.Domain.Publisher(), TopicPoison)
	if err != nil {
		return nil, err
	}
	r.AddMiddleware(
		middleware.CorrelationID,
		poison,
		// About 7 s of retries in all: long enough to ride out a broker or
		// state-store restart, short enough not to stall a partition for long.
		middleware.Retry{
			MaxRetries:      8,
			InitialInterval: 50 * time.Millisecond,
			MaxInterval:     2 * time.Second,
			Multiplier:      2,
			Logger:          b.Logger,
			ShouldRetry:     func(p middleware.RetryParams) bool { return !IsPermanent(p.Err) },
		}.Middleware,
		middleware.Recoverer,
	)
	return r, nil
}

// NewMessage returns a message with id as its UUID (the event id, so that
// handlers can drop duplicates) and key as its partition key.
func NewMessage(id, key string, payload []byte) *message.Message {
	msg := message.NewMessage(id, payload)
	msg.Metadata.Set(KeyMetadata, key)
	return msg
}

// PublishJSON encodes v and publishes it on topic.
func PublishJSON(ctx context.Context, pub message.Publisher, topic, id, key string, v any) error {
	payload, err := json.Marshal(v)
	if err != nil {
		return err
	}
	msg := NewMessage(id, key, payload)
	msg.SetContext(ctx)
	return pub.Publish(topic, msg)
}

// NewID returns a new event id: a ULID, unique and sortable by time.
func NewID() string { return watermill.NewULID() }

// permanentError marks a failure that no retry can fix (an event that
// breaks its contract): it goes straight to the poison queue.
type permanentError struct{ err error }

func (e permanentError) Error() string   { return e.err.Error() }
func (e permanentError) Unwrap() error   { return e.err }
func (e permanentError) Permanent() bool { return true }

// Permanent wraps err so that the router does not retry it.
func Permanent(err error) error { return permanentError{err} }

// IsPermanent reports whether err, or an error it wraps, has a
// Permanent() bool method that returns true.
func IsPermanent(err error) bool {
	var p interface{ Permanent() bool }
	return errors.As(err, &p) && p.Permanent()
}
