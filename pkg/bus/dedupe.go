package bus

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/redis/go-redis/v9"
)

// DedupeStore remembers the ids of handled messages for a while. The
// memory implementation serves the embedded mode; a shared one (Redis)
// serves several worker instances.
type DedupeStore interface {
	// Seen reports whether id was marked within the window.
	Seen(ctx context.Context, id string) (bool, error)
	// Mark records id as handled.
	Mark(ctx context.Context, id string) error
}

// DedupeOption configures Dedupe.
type DedupeOption func(*dedupeOptions)

type dedupeOptions struct{ log *slog.Logger }

// DedupeLogger receives the marks that failed (the message was handled,
// but a redelivery would not be recognised).
func DedupeLogger(l *slog.Logger) DedupeOption { return func(o *dedupeOptions) { o.log = l } }

// Dedupe returns a handler middleware that acknowledges and drops a
// message whose UUID (the event id) was already handled. An id is marked
// only after the handler succeeded, so a failed attempt is retried (and
// finally parked) rather than mistaken for a duplicate. A message without
// an id (a record produced outside Watermill) is never a duplicate. A
// failed mark is logged, not returned: the work is done, and a retry would
// only repeat it.
func Dedupe(store DedupeStore, opts ...DedupeOption) message.HandlerMiddleware {
	return func(h message.HandlerFunc) message.HandlerFunc {
		return func(msg *message.Message) ([]*message.Message, error) {
			var out []*message.Message
			err := Once(msg.Context(), store, msg.UUID, func() error {
				var err error
				out, err = h(msg)
				return err
			}, opts...)
			return out, err
		}
	}
}

// Once is Dedupe for a single call, for a handler that needs it for some
// of its messages only (those whose handling is not idempotent by itself):
// it runs handle unless id was already marked, and marks id after handle
// succeeded. An empty id is never a duplicate. Each call costs a lookup
// and a mark, two round trips with a shared store.
func Once(ctx context.Context, store DedupeStore, id string, handle func() error, opts ...DedupeOption) error {
	if id == "" {
		return handle()
	}
	if seen, err := store.Seen(ctx, id); err != nil {
		return err
	} else if seen {
		return nil
	}
	if err := handle(); err != nil {
		return err
	}
	if err := store.Mark(ctx, id); err != nil {
		o := dedupeOptions{log: slog.New(slog.DiscardHandler)}
		for _, opt := range opts {
			opt(&o)
		}
		o.log.Warn("dedupe: handled message not recorded; a redelivery would be handled again", "uuid", id, "error", err)
	}
	return nil
}

// MemoryDedupe is a DedupeStore in process memory. Expired ids are
// dropped as new ones arrive, so it needs no goroutine of its own.
type MemoryDedupe struct {
	window time.Duration
	now    func() time.Time

	mu    sync.Mutex
	ids   map[string]time.Time
	order []string // marking order, for expiry
}

// NewMemoryDedupe remembers ids for window.
func NewMemoryDedupe(window time.Duration) *MemoryDedupe {
	return &MemoryDedupe{window: window, now: time.Now, ids: make(map[string]time.Time)}
}

// Seen implements DedupeStore.
func (d *MemoryDedupe) Seen(_ context.Context, id string) (bool, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	at, ok := d.ids[id]
	return ok && d.now().Sub(at) < d.window, nil
}

// Mark implements DedupeStore.
func (d *MemoryDedupe) Mark(_ context.Context, id string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	now := d.now()
	for len(d.order) > 0 {
		oldest := d.order[0]
		if now.Sub(d.ids[oldest]) < d.window {
			break
		}
		delete(d.ids, oldest)
		d.order = d.order[1:]
	}
	if _, ok := d.ids[id]; !ok {
		d.order = append(d.order, id)
	}
	d.ids[id] = now
	return nil
}

// RedisDedupe is a DedupeStore shared by every instance of a service:
// one key per handled id, expiring after the window.
type RedisDedupe struct {
	client redis.UniversalClient
	prefix string
	window time.Duration
}

// NewRedisDedupe keeps ids under prefix (such as "dedupe:chat:") for window.
func NewRedisDedupe(client redis.UniversalClient, prefix string, window time.Duration) *RedisDedupe {
	return &RedisDedupe{client: client, prefix: prefix, window: window}
}

// Seen implements DedupeStore.
func (d *RedisDedupe) Seen(ctx context.Context, id string) (bool, error) {
	n, err := d.client.Exists(ctx, d.prefix+id).Result()
	return n == 1, err
}

// Mark implements DedupeStore.
func (d *RedisDedupe) Mark(ctx context.Context, id string) error {
	return d.client.Set(ctx, d.prefix+id, 1, d.window).Err()
}
