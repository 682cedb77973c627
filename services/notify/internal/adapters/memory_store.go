// Package adapters connects the notify application to the outside world:
// the state store (MemoryStore for one instance, RedisStore for any number)
// and the fan-out topic.
package adapters

import (
	"context"
	"slices"
	"sync"

	"realtime/services/notify/internal/app"
)

var _ app.Store = (*MemoryStore)(nil)

// MemoryStore keeps subscriptions and read receipts in process memory, for
// embedded mode and tests. Its layout (a set of channels and a set of read
// notifications per user) is the one the Redis store mirrors with one Redis
// set per user, so both behave the same.
type MemoryStore struct {
	mu            sync.Mutex
	subscriptions map[string]map[string]struct{} // user -> channels
	read          map[string]map[string]struct{} // user -> notification ids
}

// NewMemoryStore returns an empty store.
func NewMemoryStore() *MemoryStore {
	return &MemoryStore{
		subscriptions: make(map[string]map[string]struct{}),
		read:          make(map[string]map[string]struct{}),
	}
}

func (s *MemoryStore) Subscribe(_ context.Context, userID, channelID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	add(s.subscriptions, userID, channelID)
	return nil
}

func (s *MemoryStore) Unsubscribe(_ context.Context, userID, channelID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	set := s.subscriptions[userID]
	delete(set, channelID)
	if len(set) == 0 {
		delete(s.subscriptions, userID) // no empty sets left behind per user
	}
	return nil
}

func (s *MemoryStore) Subscriptions(_ context.Context, userID string) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.subscriptions[userID]))
	for ch := range s.subscriptions[userID] {
		out = append(out, ch)
	}
	slices.Sort(out)
	return out, nil
}

func (s *MemoryStore) MarkRead(_ context.Context, userID, notificationID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	add(s.read, userID, notificationID)
	return nil
}

func (s *MemoryStore) IsRead(_ context.Context, userID, notificationID string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.read[userID][notificationID]
	return ok, nil
}

func add(sets map[string]map[string]struct{}, k, v string) {
	set, ok := sets[k]
	if !ok {
		set = make(map[string]struct{})
		sets[k] = set
	}
	set[v] = struct{}{}
}
