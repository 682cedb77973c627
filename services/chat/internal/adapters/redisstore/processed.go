package redisstore

import (
	"context"
	"time"

	"github.com/redis/go-redis/v9"

	"realtime/pkg/bus"
)

// ProcessedEvents remembers handled domain event ids for every chat
// instance: one key per id, <prefix>processed:<eventId>, set (PX
// retention) only after the event was handled, checked (EXISTS) before.
// It is pkg/bus's RedisDedupe behind the chat worker's ports.ProcessedEvents;
// expiry follows Redis's clock, so the now arguments are not used.
type ProcessedEvents struct {
	ids *bus.RedisDedupe
}

// NewProcessedEvents forgets an id retention after it was marked.
func NewProcessedEvents(client redis.UniversalClient, prefix string, retention time.Duration) *ProcessedEvents {
	return &ProcessedEvents{ids: bus.NewRedisDedupe(client, prefix+"processed:", retention)}
}

// Seen reports whether id was marked within the retention.
func (p *ProcessedEvents) Seen(ctx context.Context, id string, _ time.Time) (bool, error) {
	return p.ids.Seen(ctx, id)
}

// Mark records id as handled.
func (p *ProcessedEvents) Mark(ctx context.Context, id string, _ time.Time) error {
	return p.ids.Mark(ctx, id)
}
