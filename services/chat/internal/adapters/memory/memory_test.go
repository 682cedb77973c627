package memory

import (
	"context"
	"fmt"
	"testing"
	"time"

	"realtime/services/chat/internal/domain"
)

var t0 = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

// clock is a fake clock the tests move by hand.
type clock struct{ now time.Time }

func (c *clock) Now() time.Time          { return c.now }
func (c *clock) Advance(d time.Duration) { c.now = c.now.Add(d) }
func newClock() *clock                   { return &clock{now: t0} }
func allow(t *testing.T, l *RateLimiter, c *clock, user, id string) bool {
	t.Helper()
	ok, err := l.Allow(context.Background(), user, id, c.Now())
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

// The behaviour shared with the Redis stores is tested against both in
// package adapters; these tests look at the memory stores' insides.

func TestRateLimiterForgetsInactiveUsers(t *testing.T) {
	c := newClock()
	l := NewRateLimiter(domain.RateLimit{Max: 10, Window: time.Minute})
	for i := range 100 {
		allow(t, l, c, fmt.Sprint("user", i), "m")
	}
	if got := l.len(); got != 100 {
		t.Fatalf("remembers %d users, want 100", got)
	}
	c.Advance(time.Minute)
	allow(t, l, c, "late", "m")
	if got := l.len(); got != 1 {
		t.Fatalf("remembers %d users after a window, want 1", got)
	}
}

func TestRateLimiterDisabledKeepsNoState(t *testing.T) {
	c := newClock()
	l := NewRateLimiter(domain.RateLimit{Max: 0, Window: time.Minute})
	for i := range 100 {
		allow(t, l, c, "u", fmt.Sprint(i))
	}
	if l.len() != 0 {
		t.Fatal("disabled limiter keeps state")
	}
}

func TestProcessedEventsExpiry(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	p := NewProcessedEvents(10 * time.Minute)
	seen := func(id string) bool {
		t.Helper()
		ok, err := p.Seen(ctx, id, c.Now())
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if seen("e1") {
		t.Fatal("unmarked id seen")
	}
	if err := p.Mark(ctx, "e1", c.Now()); err != nil {
		t.Fatal(err)
	}
	c.Advance(5 * time.Minute)
	_ = p.Mark(ctx, "e2", c.Now())
	if !seen("e1") || !seen("e2") {
		t.Fatal("marked ids not seen")
	}
	c.Advance(5 * time.Minute) // e1 is 10 min old
	if seen("e1") {
		t.Fatal("e1 seen after its retention")
	}
	if !seen("e2") {
		t.Fatal("e2 forgotten early")
	}
	_ = p.Mark(ctx, "e2", c.Now()) // marked again: kept 10 more minutes
	c.Advance(5 * time.Minute)
	if !seen("e2") {
		t.Fatal("re-marked e2 forgotten at its first expiry")
	}
	c.Advance(5 * time.Minute)
	if seen("e2") || p.len() != 0 {
		t.Fatalf("still remembers %d ids after every retention", p.len())
	}
}

func TestProcessedEventsBounded(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	p := NewProcessedEvents(time.Minute)
	for i := range 10000 {
		_ = p.Mark(ctx, fmt.Sprint(i), c.Now())
		c.Advance(time.Second)
	}
	if got := p.len(); got != 60 {
		t.Fatalf("remembers %d ids, want the last minute's 60", got)
	}
	if got := len(p.queue) - p.head; got != 60 {
		t.Fatalf("queue holds %d live entries, want 60", got)
	}
	if cap(p.queue) > 1024 {
		t.Fatalf("queue grew to %d", cap(p.queue))
	}
}
