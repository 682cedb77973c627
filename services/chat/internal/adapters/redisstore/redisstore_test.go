package redisstore_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"realtime/pkg/redistest"
	"realtime/services/chat/internal/adapters/redisstore"
	"realtime/services/chat/internal/domain"
)

// The behaviour shared with the memory stores is tested against both in
// package adapters; these tests check the key layout and that every key
// expires.

var t0 = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

func TestRateLimiterKeys(t *testing.T) {
	ctx := context.Background()
	c, prefix := redistest.Client(t)
	l := redisstore.NewRateLimiter(c, prefix, domain.RateLimit{Max: 3, Window: time.Minute})
	key := prefix + "rate:alice"
	for i := range 4 {
		if _, err := l.Allow(ctx, "alice", fmt.Sprint("a", i), t0.Add(time.Duration(i)*time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	if got := redistest.Keys(t, c, prefix); !slices.Equal(got, []string{key}) {
		t.Fatalf("keys %v, want [%s]", got, key)
	}
	members, err := c.ZRangeWithScores(ctx, key, 0, -1).Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(members) != 3 { // the refused 4th is not stored
		t.Fatalf("members %v, want the 3 accepted attempts", members)
	}
	for i, m := range members {
		if m.Member != fmt.Sprint("a", i) || int64(m.Score) != t0.Add(time.Duration(i)*time.Second).UnixMilli() {
			t.Errorf("member %d = %v, want a%d at its time in Unix ms", i, m, i)
		}
	}
	// The key lives one window after the newest post: set when a2 was
	// accepted, untouched by the refusal.
	ttl, err := c.PTTL(ctx, key).Result()
	if err != nil {
		t.Fatal(err)
	}
	if ttl <= 50*time.Second || ttl > time.Minute {
		t.Errorf("TTL %s, want about 1m", ttl)
	}
	// A post stamped later than the newest (another instance's clock
	// ahead) extends the key's life to one window after it.
	if _, err := l.Allow(ctx, "bob", "b0", t0.Add(10*time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Allow(ctx, "bob", "b1", t0); err != nil {
		t.Fatal(err)
	}
	if ttl, err := c.PTTL(ctx, prefix+"rate:bob").Result(); err != nil || ttl <= 65*time.Second || ttl > 70*time.Second {
		t.Errorf("TTL of bob's posts %s (%v), want about 70s: a window after the newest post", ttl, err)
	}
	if err := c.Del(ctx, prefix+"rate:bob").Err(); err != nil {
		t.Fatal(err)
	}

	// Posts that left the window are removed by the next attempt.
	if ok, err := l.Allow(ctx, "alice", "late", t0.Add(2*time.Minute)); err != nil || !ok {
		t.Fatalf("Allow after the window = %v, %v", ok, err)
	}
	if n, err := c.ZCard(ctx, key).Result(); err != nil || n != 1 {
		t.Fatalf("%d posts kept (%v), want the 1 that counts", n, err)
	}
}

func TestRateLimiterDisabledWritesNothing(t *testing.T) {
	c, prefix := redistest.Client(t)
	l := redisstore.NewRateLimiter(c, prefix, domain.RateLimit{Max: 0, Window: time.Minute})
	for i := range 5 {
		if ok, err := l.Allow(context.Background(), "u", fmt.Sprint(i), t0); err != nil || !ok {
			t.Fatalf("Allow = %v, %v", ok, err)
		}
	}
	if keys := redistest.Keys(t, c, prefix); len(keys) != 0 {
		t.Fatalf("keys %v, want none", keys)
	}
}

func TestProcessedEventsKeys(t *testing.T) {
	ctx := context.Background()
	c, prefix := redistest.Client(t)
	p := redisstore.NewProcessedEvents(c, prefix, 10*time.Minute)
	if err := p.Mark(ctx, "ev-1", t0); err != nil {
		t.Fatal(err)
	}
	key := prefix + "processed:ev-1"
	if got := redistest.Keys(t, c, prefix); !slices.Equal(got, []string{key}) {
		t.Fatalf("keys %v, want [%s]", got, key)
	}
	ttl, err := c.PTTL(ctx, key).Result()
	if err != nil {
		t.Fatal(err)
	}
	if ttl <= 9*time.Minute || ttl > 10*time.Minute {
		t.Errorf("TTL %s, want about 10m", ttl)
	}
}

// An id is forgotten once its retention passed (a short one, on Redis's
// own clock).
func TestProcessedEventsExpire(t *testing.T) {
	ctx := context.Background()
	c, prefix := redistest.Client(t)
	p := redisstore.NewProcessedEvents(c, prefix, 50*time.Millisecond)
	if err := p.Mark(ctx, "ev-1", t0); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		seen, err := p.Seen(ctx, "ev-1", t0)
		if err != nil {
			t.Fatal(err)
		}
		if !seen {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("id still seen 5 s after a 50 ms retention")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
