package app_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"realtime/contracts"
	"realtime/services/presence/internal/adapters"
	"realtime/services/presence/internal/app"
	"realtime/services/presence/internal/domain"
)

// recorder is a Fanout that keeps what was published.
type recorder struct {
	mu   sync.Mutex
	msgs []contracts.FanoutMessage
}

func (r *recorder) Publish(_ context.Context, m contracts.FanoutMessage) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, m)
	return nil
}

// take returns and forgets what was published so far.
func (r *recorder) take() []contracts.FanoutMessage {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.msgs
	r.msgs = nil
	return out
}

type fixture struct {
	app   *app.App
	store *adapters.MemoryStore
	out   *recorder
	now   time.Time
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{
		store: adapters.NewMemoryStore(domain.Settings{DefaultLease: 15 * time.Second}),
		out:   &recorder{},
		now:   time.UnixMilli(1_767_225_600_000),
	}
	a, err := app.New(app.Config{
		CountInterval: time.Second,
		EdgeTTL:       15 * time.Second,
		SweepInterval: time.Second,
		Clock:         func() time.Time { return f.now },
	}, f.store, f.out, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	f.app = a
	return f
}

func (f *fixture) advance(d time.Duration) { f.now = f.now.Add(d) }

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// summary is a fan-out message in a comparable form.
type summary struct {
	Target string
	Except string
	Event  string
	Data   string
	Vol    bool
}

func summarize(msgs []contracts.FanoutMessage) []summary {
	out := make([]summary, 0, len(msgs))
	for _, m := range msgs {
		target := m.Target.Kind + ":" + m.Target.Room + m.Target.UserID + m.Target.SocketID
		if m.Target.EdgeID != "" {
			target += "@" + m.Target.EdgeID
		}
		var except string
		if m.Except != nil {
			except = m.Except.SocketID + m.Except.UserID
		}
		out = append(out, summary{target, except, m.Event, string(m.Data), m.Volatile})
	}
	return out
}

func check(t *testing.T, got []contracts.FanoutMessage, want ...summary) {
	t.Helper()
	if g := summarize(got); !slices.Equal(g, want) {
		t.Fatalf("published\n  %v\nwant\n  %v", g, want)
	}
}

func viewers(target string, count int) summary {
	return summary{Target: target, Event: "video:viewers", Data: `{"videoId":"123","count":` + itoa(count) + `}`, Vol: true}
}

func chatters(target string, count int) summary {
	return summary{Target: target, Event: "chat:user-count", Data: `{"videoId":"123","count":` + itoa(count) + `}`, Vol: true}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

var (
	s1 = app.Origin{EdgeID: "edge-1", SocketID: "s1", UserID: "u1"}
	s2 = app.Origin{EdgeID: "edge-1", SocketID: "s2", UserID: "u1"}
	s3 = app.Origin{EdgeID: "edge-2", SocketID: "s3"}
)

func TestJoinAnswersTheJoinerAndCoalescesTheRoom(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	video := domain.VideoRoom("123")

	must(t, f.app.Join(ctx, s1, video, f.now))
	must(t, f.app.Join(ctx, s2, video, f.now))
	must(t, f.app.Join(ctx, s2, video, f.now)) // again: same count, no change
	check(t, f.out.take(), viewers("socket:s1@edge-1", 1), viewers("socket:s2@edge-1", 2), viewers("socket:s2@edge-1", 2))

	f.app.FlushCounts(ctx)
	check(t, f.out.take(), viewers("room:video:123", 2))

	f.advance(100 * time.Millisecond)
	must(t, f.app.Leave(ctx, s2, video, f.now))
	must(t, f.app.Join(ctx, s3, video, f.now))
	must(t, f.app.Leave(ctx, s3, video, f.now))
	f.app.FlushCounts(ctx) // within the quiet period
	check(t, f.out.take(), viewers("socket:s3@edge-2", 2))

	f.advance(900 * time.Millisecond)
	f.app.FlushCounts(ctx)
	check(t, f.out.take(), viewers("room:video:123", 1))

	f.advance(5 * time.Second)
	must(t, f.app.Join(ctx, s3, domain.ChatRoom("123"), f.now))
	f.app.FlushCounts(ctx) // first change after a quiet interval: at once
	check(t, f.out.take(), chatters("socket:s3@edge-2", 1), chatters("room:chat:123", 1))
}

func TestLeaveWithoutJoinSendsNothing(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	must(t, f.app.Leave(ctx, s1, domain.VideoRoom("123"), f.now))
	f.app.FlushCounts(ctx)
	check(t, f.out.take())
}

func TestCloseSessionCorrectsEveryRoom(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	must(t, f.app.OpenSession(ctx, s1))
	must(t, f.app.Join(ctx, s1, domain.VideoRoom("123"), f.now))
	must(t, f.app.Join(ctx, s1, domain.ChatRoom("123"), f.now))
	must(t, f.app.Join(ctx, s3, domain.VideoRoom("123"), f.now))
	f.app.FlushCounts(ctx)
	f.out.take()

	f.advance(2 * time.Second)
	must(t, f.app.CloseSession(ctx, s1))
	f.app.FlushCounts(ctx)
	check(t, f.out.take(), chatters("room:chat:123", 0), viewers("room:video:123", 1))

	// A join of the closed socket that arrives late is ignored.
	must(t, f.app.Join(ctx, s1, domain.VideoRoom("123"), f.now.Add(-time.Second)))
	check(t, f.out.take(), viewers("socket:s1@edge-1", 1))
}

func TestExpiredEdgeLeaseCorrectsCounts(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	must(t, f.app.Heartbeat(ctx, "edge-1", time.Second, f.now))
	must(t, f.app.Heartbeat(ctx, "edge-2", 0, f.now)) // default EdgeTTL
	must(t, f.app.Join(ctx, s1, domain.VideoRoom("123"), f.now))
	must(t, f.app.Join(ctx, s3, domain.VideoRoom("123"), f.now))
	f.app.FlushCounts(ctx)
	f.out.take()

	f.advance(999 * time.Millisecond)
	must(t, f.app.ExpireEdges(ctx))
	f.app.FlushCounts(ctx)
	check(t, f.out.take())

	f.advance(time.Millisecond)
	must(t, f.app.ExpireEdges(ctx))
	f.app.FlushCounts(ctx)
	check(t, f.out.take(), viewers("room:video:123", 1))

	f.advance(14 * time.Second) // edge-2's default lease of 15s
	must(t, f.app.ExpireEdges(ctx))
	f.app.FlushCounts(ctx)
	check(t, f.out.take(), viewers("room:video:123", 0))
}

// An edge's heartbeat shares a partition with its session and room events:
// while a backlog of those is worked through, each one extends the lease
// (by what the edge's heartbeat asked for), so a live edge is not declared
// dead because presence is behind. Once its events stop, it is.
func TestEventsOfAnEdgeKeepItsLease(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	must(t, f.app.Heartbeat(ctx, "edge-1", 4*time.Second, f.now))
	must(t, f.app.Join(ctx, s1, domain.VideoRoom("123"), f.now))
	f.app.FlushCounts(ctx)
	f.out.take()

	for range 6 { // 12 s of backlog from edge-1, no heartbeat among it
		f.advance(2 * time.Second)
		must(t, f.app.OpenSession(ctx, app.Origin{EdgeID: "edge-1", SocketID: "backlog"}))
		must(t, f.app.ExpireEdges(ctx))
		f.app.FlushCounts(ctx)
		check(t, f.out.take())
	}
	f.advance(4 * time.Second) // the events ran out: the lease ends 4 s after the last
	must(t, f.app.ExpireEdges(ctx))
	f.app.FlushCounts(ctx)
	check(t, f.out.take(), viewers("room:video:123", 0))
}

func TestProgressSyncsTheUsersOtherDevices(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	must(t, f.app.Progress(ctx, s1, "123", 45.5))
	check(t, f.out.take(), summary{Target: "user:u1", Except: "s1", Event: "video:sync", Data: `{"videoId":"123","timestamp":45.5}`})
	if pos, ok, _ := f.store.Position(ctx, "u1", "123"); !ok || pos != 45.5 {
		t.Fatalf("stored position = %v, %v; want 45.5", pos, ok)
	}

	must(t, f.app.Progress(ctx, s3, "123", 10)) // anonymous: no other devices
	check(t, f.out.take())
}

// With the expiry guard, an outage of the bus (no heartbeat from any edge)
// declares no edge dead; once heartbeats flow again for the guard, an edge
// that stays silent is.
func TestExpiryGuardKeepsCountsThroughABusOutage(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	guarded, err := app.New(app.Config{
		CountInterval: time.Second, EdgeTTL: 4 * time.Second, SweepInterval: time.Second,
		ExpiryGuard: 2 * time.Second, Clock: func() time.Time { return f.now },
	}, f.store, f.out, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	a := guarded
	beat := func(edges ...string) {
		for _, e := range edges {
			must(t, a.Heartbeat(ctx, e, 0, f.now))
		}
	}
	// Heartbeats have flowed for a while; both edges have a viewer.
	for range 3 {
		beat("edge-1", "edge-2")
		f.advance(time.Second)
	}
	must(t, a.Join(ctx, s1, domain.VideoRoom("123"), f.now))
	must(t, a.Join(ctx, s3, domain.VideoRoom("123"), f.now))
	a.FlushCounts(ctx)
	f.out.take()

	// The bus goes down: nobody's heartbeat arrives for twice the lease.
	f.advance(8 * time.Second)
	must(t, a.ExpireEdges(ctx))
	a.FlushCounts(ctx)
	check(t, f.out.take()) // both leases ran out, but nobody is declared dead

	// It comes back and only edge-2 beats: not yet (heartbeats must flow
	// for the guard first), then edge-1 is declared dead.
	beat("edge-2")
	must(t, a.ExpireEdges(ctx))
	a.FlushCounts(ctx)
	check(t, f.out.take())
	f.advance(time.Second)
	beat("edge-2")
	f.advance(time.Second)
	beat("edge-2")
	must(t, a.ExpireEdges(ctx))
	a.FlushCounts(ctx)
	check(t, f.out.take(), viewers("room:video:123", 1))
}
