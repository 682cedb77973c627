// Package memory holds the in-process implementations of the chat worker's
// stores: for embedded mode (one chat instance in the process) and tests.
// They start no goroutines: expired state is dropped lazily, on use.
package memory

import (
	"context"
	"sync"
	"time"

	"realtime/services/chat/internal/domain"
)

// RateLimiter keeps each user's recent accepted posts in a map and applies
// the domain rule under one lock, which makes Allow atomic. The Redis
// implementation does the same with a sorted set per user (member: attempt
// id, score: time) in one Lua script.
type RateLimiter struct {
	rule domain.RateLimit

	mu        sync.Mutex
	users     map[string][]domain.Post
	nextSweep time.Time
}

// NewRateLimiter returns an empty limiter applying rule.
func NewRateLimiter(rule domain.RateLimit) *RateLimiter {
	return &RateLimiter{rule: rule, users: make(map[string][]domain.Post)}
}

// Allow counts the attempt attemptID of userID at now and reports whether
// it is within the limit (see domain.RateLimit.Allow).
func (l *RateLimiter) Allow(_ context.Context, userID, attemptID string, now time.Time) (bool, error) {
	if !l.rule.Enabled() {
		return true, nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sweep(now)
	posts, ok := l.rule.Allow(l.users[userID], attemptID, now)
	if len(posts) == 0 {
		delete(l.users, userID)
	} else {
		l.users[userID] = posts
	}
	return ok, nil
}

// sweep forgets, at most once per window, the users none of whose posts
// still count, so that memory follows the number of recently active users.
func (l *RateLimiter) sweep(now time.Time) {
	if now.Before(l.nextSweep) {
		return
	}
	for user, posts := range l.users {
		if !l.rule.Active(posts, now) {
			delete(l.users, user)
		}
	}
	l.nextSweep = now.Add(l.rule.Window)
}

// len returns how many users the limiter remembers (for tests).
func (l *RateLimiter) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.users)
}
