package redisstore_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"realtime/services/presence/internal/adapters/redisstore"
	"realtime/services/presence/internal/adapters/storetest"
	"realtime/services/presence/internal/app"
	"realtime/services/presence/internal/domain"
)

// TestRedisStore runs the store suite on Redis; every instance has its own
// client on the test's keys.
func TestRedisStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T, s domain.Settings) func() storetest.Store {
		newClient, prefix := storetest.Redis(t)
		return func() storetest.Store { return redisstore.New(newClient(), prefix, s) }
	})
}

// TestKeysAreBounded checks the key layout and that nothing outlives its
// use: a closed or expired socket leaves only its closed marker, an expired
// edge nothing, and markers and positions carry their TTLs.
func TestKeysAreBounded(t *testing.T) {
	newClient, prefix := storetest.Redis(t)
	c := newClient()
	ctx := t.Context()
	s := redisstore.New(c, prefix, domain.Settings{DefaultLease: 15 * time.Second})
	t0 := time.Now()

	must(t, s.OpenSession(ctx, "s1", "u1", "e1", t0))
	_, _, err := s.Join(ctx, "j1", "video:1", "s1", "e1", t0, t0)
	must(t, err)
	_, _, err = s.Join(ctx, "", "chat:1", "s2", "e2", t0, t0)
	must(t, err)
	must(t, s.Heartbeat(ctx, "e2", time.Hour, t0, t0))
	must(t, s.SetPosition(ctx, "u1", "1", 12.5, t0))
	checkKeys(t, c, prefix, "beats", "edge:e1", "edge:e2", "handled:j1", "leases", "pos:2:u1:1",
		"room:chat:1", "room:video:1", "socket:s1", "socket:s2")
	if user, _ := c.HGet(ctx, prefix+"socket:s1", "user").Result(); user != "u1" {
		t.Errorf("socket:s1 user = %q", user)
	}

	_, err = s.CloseSocket(ctx, "s2", t0)
	must(t, err)
	_, expired, err := s.ExpireEdge(ctx, "e1", t0.Add(15*time.Second))
	must(t, err)
	if !expired {
		t.Fatal("e1 not expired")
	}
	checkKeys(t, c, prefix, "beats", "closed:s1", "closed:s2", "handled:j1", "leases", "pos:2:u1:1")
	if edges, _ := c.ZRange(ctx, prefix+"leases", 0, -1).Result(); !slices.Equal(edges, []string{"e2"}) {
		t.Errorf("leases hold %v, want e2", edges)
	}
	for key, want := range map[string]time.Duration{
		"closed:s1":  domain.DefaultSettings.ClosedRetention,
		"closed:s2":  domain.DefaultSettings.ClosedRetention,
		"pos:2:u1:1": domain.DefaultSettings.PositionRetention,
		"handled:j1": domain.DefaultSettings.DedupeWindow,
	} {
		got, err := c.PTTL(ctx, prefix+key).Result()
		must(t, err)
		if got <= 0 || got > want || got < want-time.Minute {
			t.Errorf("%s TTL %s, want about %s", key, got, want)
		}
	}
}

// checkKeys checks that the keys under prefix are exactly want (sorted,
// without the prefix).
func checkKeys(t *testing.T, c *redis.Client, prefix string, want ...string) {
	t.Helper()
	keys, err := storetest.Keys(t.Context(), c, prefix)
	must(t, err)
	for i := range keys {
		keys[i] = strings.TrimPrefix(keys[i], prefix)
	}
	if !slices.Equal(keys, want) {
		t.Fatalf("keys %q, want %q", keys, want)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestMarksUnder checks that WithMarksUnder moves the marks of handled
// joins, so that they can share the key space of the service's
// bus.RedisDedupe.
func TestMarksUnder(t *testing.T) {
	newClient, prefix := storetest.Redis(t)
	c := newClient()
	ctx := t.Context()
	s := redisstore.New(c, prefix+"presence:", domain.Settings{}, redisstore.WithMarksUnder(prefix+"dedupe:"))
	now := time.Now()
	_, _, err := s.Join(ctx, "j1", "video:1", "s1", "e1", now, now)
	must(t, err)
	if n, err := c.Exists(ctx, prefix+"dedupe:j1").Result(); err != nil || n != 1 {
		t.Fatalf("mark dedupe:j1 exists %d, %v", n, err)
	}
	// A mark set by another writer under that prefix makes the join a duplicate.
	must(t, c.Set(ctx, prefix+"dedupe:j2", 1, time.Minute).Err())
	if _, _, err := s.Join(ctx, "j2", "video:1", "s2", "e1", now, now); !errors.Is(err, app.ErrDuplicate) {
		t.Fatalf("join j2 marked elsewhere: err %v, want ErrDuplicate", err)
	}
	if n, err := s.Count(ctx, "video:1"); err != nil || n != 1 {
		t.Fatalf("count %d, %v, want 1", n, err)
	}
}
