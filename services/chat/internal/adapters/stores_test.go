package adapters_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"realtime/pkg/redistest"
	"realtime/services/chat/internal/adapters/memory"
	"realtime/services/chat/internal/adapters/redisstore"
	"realtime/services/chat/internal/app"
	"realtime/services/chat/internal/domain"
	"realtime/services/chat/internal/ports"
)

var t0 = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

// limiters builds each implementation of app.RateLimiter; the Redis one is
// skipped without REDIS_ADDR and gets a key prefix of its own.
var limiters = map[string]func(t *testing.T, rule domain.RateLimit) app.RateLimiter{
	"memory": func(_ *testing.T, rule domain.RateLimit) app.RateLimiter { return memory.NewRateLimiter(rule) },
	"redis": func(t *testing.T, rule domain.RateLimit) app.RateLimiter {
		c, prefix := redistest.Client(t)
		return redisstore.NewRateLimiter(c, prefix, rule)
	},
}

var processedStores = map[string]func(t *testing.T, retention time.Duration) ports.ProcessedEvents{
	"memory": func(_ *testing.T, retention time.Duration) ports.ProcessedEvents {
		return memory.NewProcessedEvents(retention)
	},
	"redis": func(t *testing.T, retention time.Duration) ports.ProcessedEvents {
		c, prefix := redistest.Client(t)
		return redisstore.NewProcessedEvents(c, prefix, retention)
	},
}

// clock is a fake clock the tests move by hand; both limiters take the
// time from their caller.
type clock struct{ now time.Time }

func (c *clock) Advance(d time.Duration) { c.now = c.now.Add(d) }

func allow(t *testing.T, l app.RateLimiter, c *clock, user, id string) bool {
	t.Helper()
	ok, err := l.Allow(context.Background(), user, id, c.now)
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

func TestRateLimiter(t *testing.T) {
	for name, newLimiter := range limiters {
		t.Run(name, func(t *testing.T) {
			c := &clock{now: t0}
			l := newLimiter(t, domain.RateLimit{Max: 10, Window: time.Minute})
			for i := range 10 {
				if !allow(t, l, c, "alice", fmt.Sprint("a", i)) {
					t.Fatalf("message %d refused", i+1)
				}
				c.Advance(time.Second)
			}
			if allow(t, l, c, "alice", "a10") {
				t.Fatal("11th message allowed")
			}
			if !allow(t, l, c, "bob", "b0") {
				t.Fatal("another user refused")
			}
			c.Advance(50 * time.Second) // first of alice's posts is 60 s old
			if !allow(t, l, c, "alice", "a11") {
				t.Fatal("refused after the window moved on")
			}
			if allow(t, l, c, "alice", "a12") {
				t.Fatal("allowed while nine posts still count")
			}
		})
	}
}

// A retried or redelivered request gets its first answer again and is not
// counted twice; refused attempts are not counted at all.
func TestRateLimiterIdempotentPerAttempt(t *testing.T) {
	for name, newLimiter := range limiters {
		t.Run(name, func(t *testing.T) {
			c := &clock{now: t0}
			l := newLimiter(t, domain.RateLimit{Max: 2, Window: time.Minute})
			for range 3 {
				if !allow(t, l, c, "u", "first") {
					t.Fatal("retry of an accepted attempt refused")
				}
			}
			if !allow(t, l, c, "u", "second") {
				t.Fatal("second attempt refused: the retries of the first counted")
			}
			for range 3 {
				if allow(t, l, c, "u", "third") {
					t.Fatal("third attempt allowed")
				}
			}
			if !allow(t, l, c, "u", "first") || !allow(t, l, c, "u", "second") {
				t.Fatal("a counted attempt, asked again at the limit, refused")
			}
			c.Advance(time.Minute)
			if !allow(t, l, c, "u", "third") {
				t.Fatal("refused after the window although refusals do not count")
			}
		})
	}
}

func TestRateLimiterDisabled(t *testing.T) {
	for name, newLimiter := range limiters {
		t.Run(name, func(t *testing.T) {
			c := &clock{now: t0}
			l := newLimiter(t, domain.RateLimit{Max: 0, Window: time.Minute})
			for i := range 100 {
				if !allow(t, l, c, "u", fmt.Sprint(i)) {
					t.Fatal("refused with the limit disabled")
				}
			}
		})
	}
}

// TestRateLimiterAtomic: many connections of one user racing (as they do
// across edges and chat instances) get exactly Max acceptances.
func TestRateLimiterAtomic(t *testing.T) {
	for name, newLimiter := range limiters {
		t.Run(name, func(t *testing.T) {
			l := newLimiter(t, domain.RateLimit{Max: 10, Window: time.Minute})
			var (
				wg      sync.WaitGroup
				allowed atomic.Int32
			)
			for i := range 200 {
				wg.Go(func() {
					ok, err := l.Allow(context.Background(), "u", fmt.Sprint(i), t0)
					if err != nil {
						t.Error(err)
					}
					if ok {
						allowed.Add(1)
					}
				})
			}
			wg.Wait()
			if got := allowed.Load(); got != 10 {
				t.Fatalf("%d of 200 concurrent attempts allowed, want 10", got)
			}
		})
	}
}

func TestProcessedEvents(t *testing.T) {
	ctx := context.Background()
	for name, newStore := range processedStores {
		t.Run(name, func(t *testing.T) {
			p := newStore(t, 10*time.Minute)
			seen := func(id string) bool {
				t.Helper()
				ok, err := p.Seen(ctx, id, t0)
				if err != nil {
					t.Fatal(err)
				}
				return ok
			}
			if seen("e1") {
				t.Fatal("unmarked id seen")
			}
			if seen("e1") {
				t.Fatal("Seen marked the id")
			}
			for range 2 { // marking again is harmless
				if err := p.Mark(ctx, "e1", t0); err != nil {
					t.Fatal(err)
				}
			}
			if !seen("e1") {
				t.Fatal("marked id not seen")
			}
			if seen("e2") {
				t.Fatal("another id seen")
			}
		})
	}
}
