package domain

import (
	"slices"
	"testing"
	"time"
)

var t0 = time.UnixMilli(1_767_225_600_000)

func at(d time.Duration) time.Time { return t0.Add(d) }

// op is one step against Presence; want* are checked after it.
type op struct {
	do          string // open | join | leave | close | heartbeat | expire
	room        string
	socket      string
	edge        string
	when        time.Duration // event time (join/leave) and clock
	ttl         time.Duration
	late        time.Duration // heartbeat: how long ago the edge sent it
	wantCount   int
	wantChanged bool
	wantRooms   []RoomCount // close, expire
	wantExpired bool        // expire
}

func run(t *testing.T, p *Presence, ops []op) {
	t.Helper()
	for i, o := range ops {
		now := at(o.when)
		switch o.do {
		case "open":
			p.Open(o.socket, "u1", o.edge, now)
		case "join", "leave":
			f := p.Join
			if o.do == "leave" {
				f = p.Leave
			}
			count, changed := f(o.room, o.socket, o.edge, now, now)
			if count != o.wantCount || changed != o.wantChanged {
				t.Fatalf("step %d %s %s %s: got (%d, %v), want (%d, %v)", i, o.do, o.room, o.socket, count, changed, o.wantCount, o.wantChanged)
			}
		case "close":
			if got := p.Close(o.socket, now); !slices.Equal(got, o.wantRooms) {
				t.Fatalf("step %d close %s: got %v, want %v", i, o.socket, got, o.wantRooms)
			}
		case "heartbeat":
			p.Heartbeat(o.edge, o.ttl, now.Add(-o.late), now)
		case "expire":
			got, expired := p.ExpireEdge(o.edge, now)
			if expired != o.wantExpired || !slices.Equal(got, o.wantRooms) {
				t.Fatalf("step %d expire %s: got (%v, %v), want (%v, %v)", i, o.edge, got, expired, o.wantRooms, o.wantExpired)
			}
		default:
			t.Fatalf("step %d: unknown op %q", i, o.do)
		}
	}
}

func TestPresenceCounts(t *testing.T) {
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
				{do: "join", room: "video:1", socket: "s2", edge: "e1", wantCount: 2, wantChanged: true},
				{do: "close", socket: "s1", when: time.Second, wantRooms: []RoomCount{{"chat:1", 0}, {"video:1", 1}}},
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
			},
			count: map[string]int{"video:1": 0},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := NewPresence(Settings{})
			run(t, p, tt.ops)
			for room, want := range tt.count {
				if got := p.Count(room); got != want {
					t.Errorf("Count(%s) = %d, want %d", room, got, want)
				}
			}
		})
	}
}

func TestPresenceLeases(t *testing.T) {
	const ttl = 15 * time.Second
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
				{do: "expire", edge: "e1", when: ttl, wantExpired: true, wantRooms: []RoomCount{{"chat:1", 0}, {"video:1", 1}}},
				{do: "expire", edge: "e2", when: ttl},
				{do: "join", room: "video:1", socket: "s1", edge: "e1", when: ttl + time.Second, wantCount: 1},
			},
			expiredAt:   ttl,
			wantExpired: nil,
			count:       map[string]int{"video:1": 1, "chat:1": 0},
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
				{do: "expire", edge: "e1", when: 2 * time.Second, wantExpired: true, wantRooms: []RoomCount{{"video:1", 0}}},
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
				{do: "close", socket: "s1", when: time.Second, wantRooms: []RoomCount{{"video:1", 1}}},
				{do: "expire", edge: "e1", when: ttl, wantExpired: true, wantRooms: []RoomCount{{"video:1", 0}}},
			},
			count: map[string]int{"video:1": 0},
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
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := NewPresence(Settings{DefaultLease: ttl})
			run(t, p, tt.ops)
			if tt.expiredAt != 0 {
				if got := p.ExpiredEdges(at(tt.expiredAt)); !slices.Equal(got, tt.wantExpired) {
					t.Errorf("ExpiredEdges(+%s) = %v, want %v", tt.expiredAt, got, tt.wantExpired)
				}
			}
			for room, want := range tt.count {
				if got := p.Count(room); got != want {
					t.Errorf("Count(%s) = %d, want %d", room, got, want)
				}
			}
		})
	}
}

func TestPresenceForget(t *testing.T) {
	p := NewPresence(Settings{ClosedRetention: time.Minute, PositionRetention: time.Hour})
	p.Close("s1", at(0))
	p.SetPosition("u1", "v1", 45.5, at(0))
	p.Forget(at(time.Minute - time.Millisecond))
	if c, _ := p.Join("video:1", "s1", "e1", at(time.Minute), at(time.Minute)); c != 0 {
		t.Fatalf("join within retention counted: %d", c)
	}
	p.Forget(at(time.Minute))
	if c, _ := p.Join("video:1", "s1", "e1", at(time.Minute), at(time.Minute)); c != 1 {
		t.Fatalf("join after retention: count %d, want 1", c)
	}
	if pos, ok := p.Position("u1", "v1"); !ok || pos != 45.5 {
		t.Fatalf("Position = %v, %v; want 45.5", pos, ok)
	}
	p.Forget(at(time.Hour))
	if _, ok := p.Position("u1", "v1"); ok {
		t.Fatal("position kept past its retention")
	}
}

func TestParseRoom(t *testing.T) {
	for _, tt := range []struct {
		name string
		want Room
		ok   bool
	}{
		{"video:123", VideoRoom("123"), true},
		{"chat:a:b", ChatRoom("a:b"), true},
		{"video:", Room{}, false},
		{"user:1", Room{}, false},
	} {
		got, ok := ParseRoom(tt.name)
		if got != tt.want || ok != tt.ok {
			t.Errorf("ParseRoom(%q) = %v, %v; want %v, %v", tt.name, got, ok, tt.want, tt.ok)
		}
		if ok && got.String() != tt.name {
			t.Errorf("%v.String() = %q, want %q", got, got.String(), tt.name)
		}
	}
}
