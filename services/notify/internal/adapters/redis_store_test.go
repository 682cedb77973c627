package adapters_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"realtime/pkg/redistest"
	"realtime/services/notify/internal/adapters"
)

// The behaviour shared with the memory store is tested against both in
// stores_test.go; these tests check the Redis key layout and TTLs.

func TestRedisStoreKeys(t *testing.T) {
	ctx := context.Background()
	c, prefix := redistest.Client(t)
	s := adapters.NewRedisStore(c, prefix, 24*time.Hour)
	if err := s.Subscribe(ctx, "u1", "ch1"); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkRead(ctx, "u1", "n1"); err != nil {
		t.Fatal(err)
	}
	want := []string{prefix + "read:u1", prefix + "subs:u1"}
	if got := redistest.Keys(t, c, prefix); !slices.Equal(got, want) {
		t.Fatalf("keys %v, want %v", got, want)
	}
	if ttl, err := c.PTTL(ctx, prefix+"subs:u1").Result(); err != nil || ttl != -1 {
		t.Errorf("subscriptions TTL %s (%v), want none: they are durable", ttl, err)
	}
	if ttl, err := c.PTTL(ctx, prefix+"read:u1").Result(); err != nil || ttl <= 23*time.Hour || ttl > 24*time.Hour {
		t.Errorf("read receipts TTL %s (%v), want about 24h", ttl, err)
	}
	// The last unsubscribe leaves no empty key behind.
	if err := s.Unsubscribe(ctx, "u1", "ch1"); err != nil {
		t.Fatal(err)
	}
	if got := redistest.Keys(t, c, prefix); !slices.Equal(got, want[:1]) {
		t.Fatalf("keys %v after the last unsubscribe, want %v", got, want[:1])
	}
}

// A receipt counts for the read TTL after it was marked; older ones are
// trimmed when the user marks another, so a user's set holds at most one
// TTL's worth of reads however long the user stays active.
func TestRedisStoreReadReceiptsExpire(t *testing.T) {
	ctx := context.Background()
	c, prefix := redistest.Client(t)
	s := adapters.NewRedisStore(c, prefix, time.Hour)
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	s.SetClock(func() time.Time { return now })
	isRead := func(id string) bool {
		t.Helper()
		ok, err := s.IsRead(ctx, "u1", id)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}

	if err := s.MarkRead(ctx, "u1", "old"); err != nil {
		t.Fatal(err)
	}
	now = now.Add(30 * time.Minute)
	if err := s.MarkRead(ctx, "u1", "new"); err != nil {
		t.Fatal(err)
	}
	now = now.Add(30 * time.Minute) // "old" is an hour old
	if isRead("old") {
		t.Error("receipt still counts after its TTL")
	}
	if !isRead("new") {
		t.Error("receipt forgotten before its TTL")
	}
	if err := s.MarkRead(ctx, "u1", "newest"); err != nil {
		t.Fatal(err)
	}
	members, err := c.ZRange(ctx, prefix+"read:u1", 0, -1).Result()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(members, []string{"new", "newest"}) {
		t.Errorf("kept %v, want [new newest]: expired receipts trimmed", members)
	}
}
