// Package adapters connects the presence use cases to the outside world:
// the in-memory state store and the fan-out publisher. The Redis state
// store, for distributed mode, is in redisstore.
package adapters

import (
	"context"
	"sync"
	"time"

	"realtime/pkg/bus"
	"realtime/services/presence/internal/app"
	"realtime/services/presence/internal/domain"
)

// MemoryStore keeps presence state in this process, for the embedded mode
// and tests. One mutex makes every operation atomic, as the store contract
// requires. State is lost when the process stops, which is fine where the
// edges live in the same process.
type MemoryStore struct {
	mu       sync.Mutex
	p        *domain.Presence
	handled  *bus.MemoryDedupe // ids of applied joins
	forgotAt time.Time         // last housekeeping
}

// forgetEvery spaces the housekeeping, which walks every closed-socket
// marker and playback position, far more widely than the lease sweep.
const forgetEvery = time.Minute

// NewMemoryStore returns an empty store.
func NewMemoryStore(s domain.Settings) *MemoryStore {
	if s.DedupeWindow <= 0 {
		s.DedupeWindow = domain.DefaultSettings.DedupeWindow
	}
	return &MemoryStore{p: domain.NewPresence(s), handled: bus.NewMemoryDedupe(s.DedupeWindow)}
}

func (m *MemoryStore) OpenSession(_ context.Context, socket, user, edge string, now time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.p.Open(socket, user, edge, now)
	return nil
}

func (m *MemoryStore) Join(ctx context.Context, id, room, socket, edge string, at, now time.Time) (int, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if id != "" {
		if seen, _ := m.handled.Seen(ctx, id); seen {
			return 0, false, app.ErrDuplicate
		}
		_ = m.handled.Mark(ctx, id) // cannot fail
	}
	count, changed := m.p.Join(room, socket, edge, at, now)
	return count, changed, nil
}

func (m *MemoryStore) Leave(_ context.Context, room, socket, edge string, at, now time.Time) (int, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	count, changed := m.p.Leave(room, socket, edge, at, now)
	return count, changed, nil
}

func (m *MemoryStore) CloseSocket(_ context.Context, socket string, now time.Time) ([]domain.RoomCount, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.p.Close(socket, now), nil
}

func (m *MemoryStore) Heartbeat(_ context.Context, edge string, ttl time.Duration, at, now time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.p.Heartbeat(edge, ttl, at, now)
	return nil
}

func (m *MemoryStore) Touch(_ context.Context, edge string, ttl time.Duration, now time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.p.Touch(edge, ttl, now)
	return nil
}

// ExpiredEdges also drops closed-socket markers and playback positions past
// their retention, at most once per forgetEvery: the periodic lease sweep
// drives this store's housekeeping (a Redis store lets key TTLs do it).
func (m *MemoryStore) ExpiredEdges(_ context.Context, now time.Time) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if now.Sub(m.forgotAt) >= forgetEvery {
		m.p.Forget(now)
		m.forgotAt = now
	}
	return m.p.ExpiredEdges(now), nil
}

func (m *MemoryStore) ExpireEdge(_ context.Context, edge string, now time.Time) ([]domain.RoomCount, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	counts, expired := m.p.ExpireEdge(edge, now)
	return counts, expired, nil
}

func (m *MemoryStore) Count(_ context.Context, room string) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.p.Count(room), nil
}

func (m *MemoryStore) SetPosition(_ context.Context, user, video string, seconds float64, now time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.p.SetPosition(user, video, seconds, now)
	return nil
}

// Position returns user's last playback position in video (for tests and
// diagnostics; no use case reads it yet).
func (m *MemoryStore) Position(_ context.Context, user, video string) (float64, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	pos, ok := m.p.Position(user, video)
	return pos, ok, nil
}
