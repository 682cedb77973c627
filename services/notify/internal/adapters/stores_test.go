package adapters_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"realtime/pkg/redistest"
	"realtime/services/notify/internal/adapters"
	"realtime/services/notify/internal/app"
)

// stores builds each implementation of app.Store; the Redis one is skipped
// without REDIS_ADDR and gets a key prefix of its own.
var stores = map[string]func(t *testing.T) app.Store{
	"memory": func(*testing.T) app.Store { return adapters.NewMemoryStore() },
	"redis": func(t *testing.T) app.Store {
		c, prefix := redistest.Client(t)
		return adapters.NewRedisStore(c, prefix, time.Hour)
	},
}

func TestStoreSubscriptions(t *testing.T) {
	ctx := context.Background()
	for name, newStore := range stores {
		t.Run(name, func(t *testing.T) {
			s := newStore(t)
			must := func(err error) {
				t.Helper()
				if err != nil {
					t.Fatal(err)
				}
			}
			subs := func(user string) []string {
				t.Helper()
				got, err := s.Subscriptions(ctx, user)
				must(err)
				return got
			}

			if got := subs("u1"); len(got) != 0 {
				t.Fatalf("new store: %v", got)
			}
			must(s.Subscribe(ctx, "u1", "b"))
			must(s.Subscribe(ctx, "u1", "a"))
			must(s.Subscribe(ctx, "u1", "a")) // redelivery
			must(s.Subscribe(ctx, "u2", "c"))
			if got := subs("u1"); !slices.Equal(got, []string{"a", "b"}) {
				t.Fatalf("u1 follows %v, want [a b]", got)
			}
			must(s.Unsubscribe(ctx, "u1", "a"))
			must(s.Unsubscribe(ctx, "u1", "a"))   // redelivery
			must(s.Unsubscribe(ctx, "u9", "zzz")) // never subscribed
			if got := subs("u1"); !slices.Equal(got, []string{"b"}) {
				t.Fatalf("u1 follows %v, want [b]", got)
			}
			if got := subs("u2"); !slices.Equal(got, []string{"c"}) {
				t.Fatalf("u2 follows %v, want [c]", got)
			}
			must(s.Unsubscribe(ctx, "u1", "b"))
			if got := subs("u1"); len(got) != 0 {
				t.Fatalf("u1 follows %v after unsubscribing from all", got)
			}
		})
	}
}

func TestStoreReadReceipts(t *testing.T) {
	ctx := context.Background()
	for name, newStore := range stores {
		t.Run(name, func(t *testing.T) {
			s := newStore(t)
			if err := s.MarkRead(ctx, "u1", "n1"); err != nil {
				t.Fatal(err)
			}
			if err := s.MarkRead(ctx, "u1", "n1"); err != nil { // redelivery
				t.Fatal(err)
			}
			for _, c := range []struct {
				user, id string
				want     bool
			}{{"u1", "n1", true}, {"u1", "n2", false}, {"u2", "n1", false}} {
				got, err := s.IsRead(ctx, c.user, c.id)
				if err != nil || got != c.want {
					t.Errorf("IsRead(%s, %s) = %v, %v; want %v", c.user, c.id, got, err, c.want)
				}
			}
		})
	}
}
