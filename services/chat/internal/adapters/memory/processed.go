package memory

import (
	"context"
	"sync"
	"time"
)

// ProcessedEvents remembers the ids of handled domain events for a
// retention period, so a redelivered event is recognised. Ids are kept in
// a map for lookups and in a queue in marking order for expiry; with a
// clock that does not go back, expiry only ever looks at the queue's head.
// The Redis implementation is SET id 1 PX retention.
type ProcessedEvents struct {
	retention time.Duration

	mu    sync.Mutex
	until map[string]time.Time
	queue []marked
	head  int
}

type marked struct {
	id    string
	until time.Time
}

// NewProcessedEvents returns an empty set that forgets an id retention
// after it was marked.
func NewProcessedEvents(retention time.Duration) *ProcessedEvents {
	return &ProcessedEvents{retention: retention, until: make(map[string]time.Time)}
}

// Seen reports whether id was marked within the retention before now.
func (p *ProcessedEvents) Seen(_ context.Context, id string, now time.Time) (bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.expire(now)
	_, ok := p.until[id]
	return ok, nil
}

// Mark records id as handled at now.
func (p *ProcessedEvents) Mark(_ context.Context, id string, now time.Time) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.expire(now)
	until := now.Add(p.retention)
	p.until[id] = until
	p.queue = append(p.queue, marked{id: id, until: until})
	return nil
}

func (p *ProcessedEvents) expire(now time.Time) {
	for p.head < len(p.queue) && !now.Before(p.queue[p.head].until) {
		m := p.queue[p.head]
		p.queue[p.head] = marked{}
		p.head++
		// Only the latest mark of an id removes it.
		if p.until[m.id].Equal(m.until) {
			delete(p.until, m.id)
		}
	}
	// Reuse the queue's storage once its dead head is the larger part.
	if p.head > 0 && p.head >= len(p.queue)/2 {
		n := copy(p.queue, p.queue[p.head:])
		clear(p.queue[n:])
		p.queue = p.queue[:n]
		p.head = 0
	}
}

// len returns how many ids the set remembers (for tests).
func (p *ProcessedEvents) len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.until)
}
