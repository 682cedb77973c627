// Package storetest is the behaviour every app.Store implementation must
// have, as one suite that each implementation's tests run (Run), and the
// Redis test setup they share (Redis).
package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"realtime/services/presence/internal/app"
	"realtime/services/presence/internal/domain"
)

// Store is what the suite exercises: the port, plus reading a position.
type Store interface {
	app.Store
	Position(ctx context.Context, user, video string) (float64, bool, error)
}

// Factory makes fresh, empty state with settings s and returns how to open
// it: each call of open is one presence instance on that state (the memory
// store returns itself; the Redis store a new client on the same keys).
type Factory func(t *testing.T, s domain.Settings) (open func() Store)

const ttl = 15 * time.Second

var t0 = time.UnixMilli(1_767_225_600_000)

func at(d time.Duration) time.Time { return t0.Add(d) }

// op is one store call at t0+when; want* are checked after it.
type op struct {
	do          string // open | join | leave | close | heartbeat | touch | expire
	room        string
	socket      string
	edge        string
	when        time.Duration // event time (join/leave/heartbeat) and clock
	ttl         time.Duration
	late        time.Duration // heartbeat: how long ago the edge sent it
	id          string        // join: the event id
	wantDup     bool          // join: the id was applied already
	wantCount   int
	wantChanged bool
	wantRooms   []domain.RoomCount // close, expire
	wantExpired bool               // expire
}

type rc = domain.RoomCount

func r(room string, count int) rc { return rc{Room: room, Count: count} }

// Run runs the whole suite against the stores newStore makes.
func Run(t *testing.T, newStore Factory) {
	t.Run("Counts", func(t *testing.T) { testCounts(t, newStore) })
	t.Run("Leases", func(t *testing.T) { testLeases(t, newStore) })
	t.Run("Retention", func(t *testing.T) { testRetention(t, newStore) })
	t.Run("InstancesShareState", func(t *testing.T) { testShared(t, newStore) })
	t.Run("ConcurrentInstances", func(t *testing.T) { testConcurrent(t, newStore) })
}

func do(t *testing.T, s Store, ops []op) {
	t.Helper()
	ctx := t.Context()
	for i, o := range ops {
		now := at(o.when)
		switch o.do {
		case "open":
			must(t, s.OpenSession(ctx, o.socket, "u1", o.edge, now))
		case "join", "leave":
			var (
				count   int
				changed bool
				err     error
			)
			if o.do == "join" {
				count, changed, err = s.Join(ctx, o.id, o.room, o.socket, o.edge, now, now)
			} else {
				count, changed, err = s.Leave(ctx, o.room, o.socket, o.edge, now, now)
			}
			if dup := errors.Is(err, app.ErrDuplicate); dup || o.wantDup {
				if dup != o.wantDup {
					t.Fatalf("step %d %s %s %s id %q: duplicate %v (err %v), want %v", i, o.do, o.room, o.socket, o.id, dup, err, o.wantDup)
				}
				continue
			}
			must(t, err)
			if count != o.wantCount || changed != o.wantChanged {
				t.Fatalf("step %d %s %s %s: got (%d, %v), want (%d, %v)", i, o.do, o.room, o.socket, count, changed, o.wantCount, o.wantChanged)
			}
		case "close":
			got, err := s.CloseSocket(ctx, o.socket, now)
			must(t, err)
			if !slices.Equal(got, o.wantRooms) {
				t.Fatalf("step %d close %s: got %v, want %v", i, o.socket, got, o.wantRooms)
			}
		case "heartbeat":
			must(t, s.Heartbeat(ctx, o.edge, o.ttl, now.Add(-o.late), now))
		case "touch":
			must(t, s.Touch(ctx, o.edge, o.ttl, now))
		case "expire":
			got, expired, err := s.ExpireEdge(ctx, o.edge, now)
			must(t, err)
			if expired != o.wantExpired || !slices.Equal(got, o.wantRooms) {
				t.Fatalf("step %d expire %s: got (%v, %v), want (%v, %v)", i, o.edge, got, expired, o.wantRooms, o.wantExpired)
			}
		default:
			t.Fatalf("step %d: unknown op %q", i, o.do)
		}
	}
}

func checkCounts(t *testing.T, s Store, want map[string]int) {
	t.Helper()
	for room, n := range want {
		got, err := s.Count(t.Context(), room)
		must(t, err)
		if got != n {
			t.Errorf("Count(%s) = %d, want %d", room, got, n)
		}
	}
}

func testCounts(t *testing.T, newStore Factory) {
	tests := []struct {
		name  string
		ops   []op
		count map[string]int
	}{
		{
			name: "two sockets join",
			ops: []op{
				{do: "join", room: "video:1", socket: "s1", edge: "e1", wantCount: 1, wantChanged: true},
				{do: "join", room: "video:1", socket: "s2", edge: "e1", wantCount: 2, wantChanged: true},
			},
			count: map[string]int{"video:1": 2},
		},
		{
			name: "double join counts once",
			ops: []op{
				{do: "join", room: "video:1", socket: "s1", edge: "e1", wantCount: 1, wantChanged: true},
				{do: "join", room: "video:1", socket: "s1", edge: "e1", when: time.Millisecond, wantCount: 1},
			},
			count: map[string]int{"video:1": 1},
		},
		{
			name: "a join's id makes its redelivery a duplicate",
			ops: []op{
				{do: "join", id: "j1", room: "video:1", socket: "s1", edge: "e1", wantCount: 1, wantChanged: true},
				{do: "join", id: "j1", room: "video:1", socket: "s1", edge: "e1", when: time.Millisecond, wantDup: true},
				{do: "leave", room: "video:1", socket: "s1", edge: "e1", when: time.Second, wantCount: 0, wantChanged: true},
				{do: "join", id: "j1", room: "video:1", socket: "s1", edge: "e1", when: 2 * time.Second, wantDup: true},
				{do: "join", id: "j2", room: "video:1", socket: "s1", edge: "e1", when: 3 * time.Second, wantCount: 1, wantChanged: true},
				{do: "join", room: "video:1", socket: "s1", edge: "e1", when: 4 * time.Second, wantCount: 1},
			},
			count: map[string]int{"video:1": 1},
		},
		{
			name: "a join ignored as stale or closed is still recorded as handled",
			ops: []op{
				{do: "leave", room: "video:1", socket: "s1", edge: "e1", when: 2 * time.Second, wantCount: 0},
				{do: "join", id: "j1", room: "video:1", socket: "s1", edge: "e1", when: time.Second, wantCount: 0},
				{do: "join", id: "j1", room: "video:1", socket: "s1", edge: "e1", when: time.Second, wantDup: true},
				{do: "close", socket: "s2", when: 3 * time.Second},
				{do: "join", id: "j2", room: "video:1", socket: "s2", edge: "e1", when: 4 * time.Second, wantCount: 0},
				{do: "join", id: "j2", room: "video:1", socket: "s2", edge: "e1", when: 4 * time.Second, wantDup: true},
			},
			count: map[string]int{"video:1": 0},
		},
		{
			name: "leave without join changes nothing",
			ops: []op{
				{do: "join", room: "video:1", socket: "s1", edge: "e1", wantCount: 1, wantChanged: true},
				{do: "leave", room: "video:1", socket: "s2", edge: "e1", wantCount: 1},
				{do: "leave", room: "video:2", socket: "s1", edge: "e1", wantCount: 0},
			},
			count: map[string]int{"video:1": 1, "video:2": 0},
		},
		{
			name: "join then leave",
			ops: []op{
				{do: "join", room: "chat:1", socket: "s1", edge: "e1", wantCount: 1, wantChanged: true},
				{do: "leave", room: "chat:1", socket: "s1", edge: "e1", when: time.Second, wantCount: 0, wantChanged: true},
				{do: "leave", room: "chat:1", socket: "s1", edge: "e1", when: 2 * time.Second, wantCount: 0},
			},
			count: map[string]int{"chat:1": 0},
		},
		{
			name: "video and chat rooms are separate",
			ops: []op{
				{do: "join", room: "video:1", socket: "s1", edge: "e1", wantCount: 1, wantChanged: true},
				{do: "join", room: "chat:1", socket: "s1", edge: "e1", wantCount: 1, wantChanged: true},
				{do: "leave", room: "chat:1", socket: "s1", edge: "e1", when: time.Second, wantCount: 0, wantChanged: true},
			},
			count: map[string]int{"video:1": 1, "chat:1": 0},
		},
		{
			name: "a leave that arrives before its older join wins",
			ops: []op{
				{do: "leave", room: "video:1", socket: "s1", edge: "e1", when: 2 * time.Second, wantCount: 0},
				{do: "join", room: "video:1", socket: "s1", edge: "e1", when: time.Second, wantCount: 0},
			},
			count: map[string]int{"video:1": 0},
		},
		{
			name: "a join older than the applied one is ignored",
			ops: []op{
				{do: "join", room: "video:1", socket: "s1", edge: "e1", when: 2 * time.Second, wantCount: 1, wantChanged: true},
				{do: "leave", room: "video:1", socket: "s1", edge: "e1", when: time.Second, wantCount: 1},
			},
			count: map[string]int{"video:1": 1},
		},
		{
			name: "a rejoin after a leave counts again",
			ops: []op{
				{do: "join", room: "video:1", socket: "s1", edge: "e1", wantCount: 1, wantChanged: true},
				{do: "leave", room: "video:1", socket: "s1", edge: "e1", when: time.Second, wantCount: 0, wantChanged: true},
				{do: "join", room: "video:1", socket: "s1", edge: "e1", when: 2 * time.Second, wantCount: 1, wantChanged: true},
			},
			count: map[string]int{"video:1": 1},
		},
		{
			name: "close leaves every room",
			ops: []op{
				{do: "join", room: "video:1", socket: "s1", edge: "e1", wantCount: 1, wantChanged: true},
				{do: "join", room: "chat:1", socket: "s1", edge: "e1", wantCount: 1, wantChanged: true},
				{do: "leave", room: "video:2", socket: "s1", edge: "e1", wantCount: 0},
				{do: "join", room: "video:1", socket: "s2", edge: "e1", wantCount: 2, wantChanged: true},
				{do: "close", socket: "s1", when: time.Second, wantRooms: []rc{r("chat:1", 0), r("video:1", 1)}},
				{do: "close", socket: "s1", when: 2 * time.Second},
			},
			count: map[string]int{"video:1": 1, "chat:1": 0},
		},
		{
			name: "a join after close is ignored",
			ops: []op{
				{do: "open", socket: "s1", edge: "e1"},
				{do: "close", socket: "s1", when: 2 * time.Second},
				{do: "join", room: "video:1", socket: "s1", edge: "e1", when: time.Second, wantCount: 0},
				{do: "join", room: "video:1", socket: "s1", edge: "e1", when: 3 * time.Second, wantCount: 0},
				{do: "open", socket: "s1", edge: "e1", when: 3 * time.Second},
			},
			count: map[string]int{"video:1": 0},
		},
		{
			name: "ids with colons stay apart",
			ops: []op{
				{do: "join", room: "video:a:b", socket: "s:1", edge: "e:1", wantCount: 1, wantChanged: true},
				{do: "join", room: "video:a", socket: "s:1", edge: "e:1", wantCount: 1, wantChanged: true},
				{do: "close", socket: "s:1", when: time.Second, wantRooms: []rc{r("video:a", 0), r("video:a:b", 0)}},
			},
			count: map[string]int{"video:a": 0, "video:a:b": 0},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t, domain.Settings{DefaultLease: ttl})()
			do(t, s, tt.ops)
			checkCounts(t, s, tt.count)
		})
	}
}

// touchOps: e1's 2 s lease touched to 6 s; e2's minute and the unknown e3
// touched the same way.
var touchOps = []op{
	{do: "heartbeat", edge: "e1", ttl: 2 * time.Second},
	{do: "heartbeat", edge: "e2", ttl: time.Minute},
	{do: "touch", edge: "e1", when: time.Second, ttl: 5 * time.Second},
	{do: "touch", edge: "e2", when: time.Second, ttl: 5 * time.Second},
	{do: "touch", edge: "e3", when: time.Second, ttl: 5 * time.Second},
}

func testLeases(t *testing.T, newStore Factory) {
	tests := []struct {
		name        string
		ops         []op
		expiredAt   time.Duration
		wantExpired []string
		count       map[string]int
	}{
		{
			name: "an edge gets a lease on first sight",
			ops: []op{
				{do: "join", room: "video:1", socket: "s1", edge: "e1", wantCount: 1, wantChanged: true},
				{do: "expire", edge: "e1", when: ttl - time.Millisecond},
			},
			expiredAt:   ttl,
			wantExpired: []string{"e1"},
			count:       map[string]int{"video:1": 1},
		},
		{
			name: "an expired lease drops the edge's sockets only",
			ops: []op{
				{do: "join", room: "video:1", socket: "s1", edge: "e1", wantCount: 1, wantChanged: true},
				{do: "join", room: "chat:1", socket: "s1", edge: "e1", wantCount: 1, wantChanged: true},
				{do: "join", room: "video:1", socket: "s2", edge: "e1", wantCount: 2, wantChanged: true},
				{do: "join", room: "video:1", socket: "s3", edge: "e2", wantCount: 3, wantChanged: true},
				{do: "heartbeat", edge: "e2", when: 10 * time.Second, ttl: ttl},
				{do: "expire", edge: "e1", when: ttl, wantExpired: true, wantRooms: []rc{r("chat:1", 0), r("video:1", 1)}},
				{do: "expire", edge: "e1", when: ttl},
				{do: "expire", edge: "e2", when: ttl},
				{do: "join", room: "video:1", socket: "s1", edge: "e1", when: ttl + time.Second, wantCount: 1},
			},
			expiredAt:   ttl,
			wantExpired: nil,
			count:       map[string]int{"video:1": 1, "chat:1": 0},
		},
		{
			name:        "a touch extends a lease",
			ops:         touchOps,
			expiredAt:   6*time.Second - time.Millisecond, // 2 s without the touch
			wantExpired: nil,
		},
		{
			name:        "a touch never shortens a lease and never creates one",
			ops:         touchOps,
			expiredAt:   6 * time.Second,
			wantExpired: []string{"e1"}, // not e2 (a minute), not e3 (unknown)
		},
		{
			name: "several expired edges, sorted",
			ops: []op{
				{do: "heartbeat", edge: "e2", ttl: time.Second},
				{do: "heartbeat", edge: "e1", ttl: 2 * time.Second},
				{do: "heartbeat", edge: "e3", ttl: time.Minute},
			},
			expiredAt:   2 * time.Second,
			wantExpired: []string{"e1", "e2"},
		},
		{
			name: "a heartbeat renews the lease",
			ops: []op{
				{do: "heartbeat", edge: "e1", ttl: 5 * time.Second},
				{do: "join", room: "video:1", socket: "s1", edge: "e1", when: time.Second, wantCount: 1, wantChanged: true},
				{do: "heartbeat", edge: "e1", when: 4 * time.Second, ttl: 5 * time.Second},
				{do: "expire", edge: "e1", when: 8 * time.Second},
			},
			expiredAt:   9 * time.Second,
			wantExpired: []string{"e1"},
			count:       map[string]int{"video:1": 1},
		},
		{
			name: "a reordered older heartbeat is ignored",
			ops: []op{
				{do: "heartbeat", edge: "e1", when: 4 * time.Second, ttl: 5 * time.Second},
				{do: "heartbeat", edge: "e1", when: 4 * time.Second, late: time.Second, ttl: time.Second},
			},
			expiredAt:   8 * time.Second,
			wantExpired: nil,
		},
		{
			name: "the edge's heartbeat replaces its first-sight lease",
			ops: []op{
				{do: "join", room: "video:1", socket: "s1", edge: "e1", wantCount: 1, wantChanged: true},
				{do: "heartbeat", edge: "e1", when: time.Second, ttl: time.Second},
				{do: "expire", edge: "e1", when: 2 * time.Second, wantExpired: true, wantRooms: []rc{r("video:1", 0)}},
			},
			count: map[string]int{"video:1": 0},
		},
		{
			name: "a heartbeat without ttl gets the default lease",
			ops: []op{
				{do: "heartbeat", edge: "e1"},
			},
			expiredAt:   ttl,
			wantExpired: []string{"e1"},
		},
		{
			name: "a closed socket is not dropped again with its edge",
			ops: []op{
				{do: "join", room: "video:1", socket: "s1", edge: "e1", wantCount: 1, wantChanged: true},
				{do: "join", room: "video:1", socket: "s2", edge: "e1", wantCount: 2, wantChanged: true},
				{do: "close", socket: "s1", when: time.Second, wantRooms: []rc{r("video:1", 1)}},
				{do: "expire", edge: "e1", when: ttl, wantExpired: true, wantRooms: []rc{r("video:1", 0)}},
			},
			count: map[string]int{"video:1": 0},
		},
		{
			name: "a socket that moved edges goes with its new edge only",
			ops: []op{
				{do: "join", room: "video:1", socket: "s1", edge: "e1", wantCount: 1, wantChanged: true},
				{do: "heartbeat", edge: "e2", ttl: time.Hour},
				{do: "join", room: "chat:1", socket: "s1", edge: "e2", wantCount: 1, wantChanged: true},
				{do: "expire", edge: "e1", when: ttl, wantExpired: true},
			},
			count: map[string]int{"video:1": 1, "chat:1": 1},
		},
		{
			name: "an edge with only open sessions expires too",
			ops: []op{
				{do: "open", socket: "s1", edge: "e1"},
				{do: "expire", edge: "e1", when: ttl, wantExpired: true},
				{do: "join", room: "video:1", socket: "s1", edge: "e1", when: ttl, wantCount: 0},
			},
			count: map[string]int{"video:1": 0},
		},
		{
			name: "an expired edge seen again gets a new lease",
			ops: []op{
				{do: "heartbeat", edge: "e1", ttl: time.Second},
				{do: "expire", edge: "e1", when: time.Second, wantExpired: true},
				{do: "join", room: "video:1", socket: "s9", edge: "e1", when: 2 * time.Second, wantCount: 1, wantChanged: true},
				{do: "expire", edge: "e1", when: ttl},
			},
			expiredAt:   2*time.Second + ttl,
			wantExpired: []string{"e1"},
			count:       map[string]int{"video:1": 1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t, domain.Settings{DefaultLease: ttl})()
			do(t, s, tt.ops)
			if tt.expiredAt != 0 {
				got, err := s.ExpiredEdges(t.Context(), at(tt.expiredAt))
				must(t, err)
				if !slices.Equal(got, tt.wantExpired) {
					t.Errorf("ExpiredEdges(+%s) = %v, want %v", tt.expiredAt, got, tt.wantExpired)
				}
			}
			checkCounts(t, s, tt.count)
		})
	}
}

// testRetention: a closed socket is remembered for ClosedRetention, then
// may be counted again; a position is kept.
func testRetention(t *testing.T, newStore Factory) {
	ctx := t.Context()
	s := newStore(t, domain.Settings{DefaultLease: time.Hour, ClosedRetention: time.Minute, PositionRetention: time.Hour})()
	do(t, s, []op{
		{do: "close", socket: "s1"},
		{do: "join", room: "video:1", socket: "s1", edge: "e1", when: time.Minute - time.Millisecond, wantCount: 0},
	})
	// The lease sweep drives the memory store's housekeeping.
	if _, err := s.ExpiredEdges(ctx, at(time.Minute)); err != nil {
		t.Fatal(err)
	}
	do(t, s, []op{
		{do: "join", room: "video:1", socket: "s1", edge: "e1", when: time.Minute, wantCount: 1, wantChanged: true},
	})

	must(t, s.SetPosition(ctx, "u1", "v1", 45.5, t0))
	must(t, s.SetPosition(ctx, "u1", "v1", 47.25, t0.Add(time.Second)))
	must(t, s.SetPosition(ctx, "u1:v", "1", 3, t0))
	if pos, ok, err := s.Position(ctx, "u1", "v1"); err != nil || !ok || pos != 47.25 {
		t.Fatalf("Position(u1, v1) = %v, %v, %v; want 47.25", pos, ok, err)
	}
	if pos, ok, err := s.Position(ctx, "u1:v", "1"); err != nil || !ok || pos != 3 {
		t.Fatalf("Position(u1:v, 1) = %v, %v, %v; want 3", pos, ok, err)
	}
	if _, ok, err := s.Position(ctx, "u2", "v1"); err != nil || ok {
		t.Fatalf("Position(u2, v1) found: %v, %v", ok, err)
	}
}

// testShared: what one instance wrote, another reads and continues, as a
// restarted presence does.
func testShared(t *testing.T, newStore Factory) {
	open := newStore(t, domain.Settings{DefaultLease: ttl})
	first := open()
	do(t, first, []op{
		{do: "join", room: "video:1", socket: "s1", edge: "e1", wantCount: 1, wantChanged: true},
		{do: "join", room: "video:1", socket: "s2", edge: "e2", wantCount: 2, wantChanged: true},
		{do: "close", socket: "s3"},
	})
	second := open()
	do(t, second, []op{
		{do: "join", room: "video:1", socket: "s3", edge: "e1", wantCount: 2},
		{do: "join", room: "video:1", socket: "s1", edge: "e1", when: time.Second, wantCount: 2},
		{do: "join", room: "video:1", socket: "s4", edge: "e1", wantCount: 3, wantChanged: true},
		{do: "leave", room: "video:1", socket: "s2", edge: "e2", when: time.Second, wantCount: 2, wantChanged: true},
		{do: "heartbeat", edge: "e2", when: time.Second, ttl: time.Hour},
		{do: "expire", edge: "e1", when: ttl, wantExpired: true, wantRooms: []rc{r("video:1", 0)}},
	})
	checkCounts(t, first, map[string]int{"video:1": 0})
}

// testConcurrent: two instances applying events at once keep exact counts,
// and only one of them expires an edge.
func testConcurrent(t *testing.T, newStore Factory) {
	ctx := t.Context()
	open := newStore(t, domain.Settings{DefaultLease: ttl})
	stores := []Store{open(), open()}
	const sockets = 50
	run := func(f func(s Store, i int) error) {
		var wg sync.WaitGroup
		errs := make(chan error, 2*sockets)
		for i := range sockets {
			for _, s := range stores { // every event twice, once per instance
				wg.Go(func() { errs <- f(s, i) })
			}
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			must(t, err)
		}
	}
	var changes sync.Map
	var dups atomic.Int32
	run(func(s Store, i int) error {
		socket := fmt.Sprintf("s%d", i)
		_, changed, err := s.Join(ctx, "join-"+socket, "video:1", socket, fmt.Sprintf("e%d", i%2), t0, t0)
		if errors.Is(err, app.ErrDuplicate) {
			dups.Add(1)
			return nil
		}
		if changed {
			if _, dup := changes.LoadOrStore(socket, true); dup {
				return fmt.Errorf("join of %s changed the count twice", socket)
			}
		}
		return err
	})
	checkCounts(t, stores[0], map[string]int{"video:1": sockets})
	if n := dups.Load(); n != sockets {
		t.Errorf("%d joins were duplicates, want one of the two of each socket: %d", n, sockets)
	}
	run(func(s Store, i int) error {
		if i%2 == 1 {
			return nil
		}
		_, _, err := s.Leave(ctx, "video:1", fmt.Sprintf("s%d", i), "e0", at(time.Second), at(time.Second))
		return err
	})
	checkCounts(t, stores[1], map[string]int{"video:1": sockets / 2})

	results := make(chan bool, len(stores))
	var wg sync.WaitGroup
	for _, s := range stores {
		wg.Go(func() {
			counts, expired, err := s.ExpireEdge(ctx, "e1", at(ttl))
			if err != nil {
				t.Error(err)
			}
			if expired && !slices.Equal(counts, []rc{r("video:1", 0)}) {
				t.Errorf("expire counts %v, want video:1 0", counts)
			}
			results <- expired
		})
	}
	wg.Wait()
	close(results)
	n := 0
	for expired := range results {
		if expired {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d instances expired the edge, want exactly 1", n)
	}
	checkCounts(t, stores[0], map[string]int{"video:1": 0})
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// Redis connects to the Redis at REDIS_ADDR (the test is skipped when it
// is unset) and returns a way to open clients on it and a key prefix unique
// to the test. Every key under the prefix is deleted and every client
// closed when the test ends.
func Redis(t *testing.T) (newClient func() *redis.Client, prefix string) {
	t.Helper()
	addr := os.Getenv("REDIS_ADDR")
	if addr == "" {
		t.Skip("REDIS_ADDR not set: no Redis to test against (make test starts one)")
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	prefix = "test:presence:" + hex.EncodeToString(b[:]) + ":"
	var (
		mu      sync.Mutex
		clients []*redis.Client
	)
	newClient = func() *redis.Client {
		c := redis.NewClient(&redis.Options{Addr: addr})
		mu.Lock()
		clients = append(clients, c)
		mu.Unlock()
		return c
	}
	admin := newClient()
	if err := admin.Ping(t.Context()).Err(); err != nil {
		t.Fatalf("Redis at %s: %v", addr, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := DeleteKeys(ctx, admin, prefix); err != nil {
			t.Errorf("deleting test keys: %v", err)
		}
		mu.Lock()
		defer mu.Unlock()
		for _, c := range clients {
			_ = c.Close()
		}
	})
	return newClient, prefix
}

// Keys lists every key under prefix (which must hold no glob characters).
func Keys(ctx context.Context, c *redis.Client, prefix string) ([]string, error) {
	var keys []string
	iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	slices.Sort(keys)
	return keys, iter.Err()
}

// DeleteKeys deletes every key under prefix.
func DeleteKeys(ctx context.Context, c *redis.Client, prefix string) error {
	keys, err := Keys(ctx, c, prefix)
	if err != nil || len(keys) == 0 {
		return err
	}
	return c.Del(ctx, keys...).Err()
}
