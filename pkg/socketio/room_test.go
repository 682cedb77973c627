package socketio

import (
	"slices"
	"strings"
	"testing"
)

func TestRoomMembership(t *testing.T) {
	a, b, c := &Socket{id: "a"}, &Socket{id: "b"}, &Socket{id: "c"}
	type op struct {
		add    *Socket
		remove *Socket
		added  bool // add's result
	}
	tests := []struct {
		name     string
		ops      []op
		members  []*Socket
		singular bool // kept without a set
	}{
		{"empty", nil, nil, true},
		{"one", []op{{add: a, added: true}}, []*Socket{a}, true},
		{"one twice", []op{{add: a, added: true}, {add: a}}, []*Socket{a}, true},
		{"two", []op{{add: a, added: true}, {add: b, added: true}}, []*Socket{a, b}, false},
		{"second added twice", []op{{add: a, added: true}, {add: b, added: true}, {add: b}}, []*Socket{a, b}, false},
		{"three less one", []op{{add: a, added: true}, {add: b, added: true}, {add: c, added: true}, {remove: b}}, []*Socket{a, c}, false},
		{"two less one back to single", []op{{add: a, added: true}, {add: b, added: true}, {remove: a}}, []*Socket{b}, true},
		{"remove a stranger", []op{{add: a, added: true}, {remove: b}}, []*Socket{a}, true},
		{"remove the only member", []op{{add: a, added: true}, {remove: a}}, nil, true},
		{"all out and in again", []op{{add: a, added: true}, {add: b, added: true}, {remove: a}, {remove: b}, {add: c, added: true}}, []*Socket{c}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &room{name: "r"}
			for i, o := range tt.ops {
				if o.add != nil {
					if got := r.add(o.add); got != o.added {
						t.Fatalf("op %d: add(%s) = %v", i, o.add.id, got)
					}
				} else {
					r.remove(o.remove)
				}
			}
			if r.len() != len(tt.members) {
				t.Fatalf("len %d, want %d", r.len(), len(tt.members))
			}
			got := r.appendTo(nil)
			slices.SortFunc(got, func(x, y *Socket) int { return strings.Compare(x.id, y.id) })
			if !slices.Equal(got, tt.members) {
				t.Fatalf("members %v, want %v", ids(got), ids(tt.members))
			}
			for _, s := range []*Socket{a, b, c} {
				if r.has(s) != slices.Contains(tt.members, s) {
					t.Fatalf("has(%s) = %v", s.id, r.has(s))
				}
			}
			if r.has(nil) {
				t.Fatal("has(nil)")
			}
			if singular := r.many == nil; singular != tt.singular {
				t.Fatalf("kept as a set: %v", !singular)
			}
		})
	}
}

func ids(ss []*Socket) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = s.id
	}
	return out
}

// Broadcast targets over rooms of one and of several members, with
// exceptions by socket id and by room, without duplicates.
func TestBroadcastTargets(t *testing.T) {
	srv := NewServer(Config{})
	n := srv.Of("/")
	sockets := map[string]*Socket{}
	for _, id := range []string{"a", "b", "c", "d"} {
		s := &Socket{id: id, nsp: n}
		sockets[id] = s
		n.add(s)
	}
	sockets["a"].Join("user:1", "video")
	sockets["b"].Join("user:2", "video")
	sockets["c"].Join("user:3", "video")
	sockets["d"].Join("user:1")
	tests := []struct {
		name   string
		rooms  []string
		except []string
		want   string
	}{
		{"single member room", []string{"user:2"}, nil, "b"},
		{"two member room", []string{"user:1"}, nil, "ad"},
		{"room", []string{"video"}, nil, "abc"},
		{"room except a socket", []string{"video"}, []string{"b"}, "ac"},
		{"room except a room", []string{"video"}, []string{"user:1"}, "bc"},
		{"single member room excepted", []string{"user:2"}, []string{"b"}, ""},
		{"rooms without duplicates", []string{"video", "user:1"}, nil, "abcd"},
		{"rooms except a room", []string{"video", "user:1"}, []string{"user:3"}, "abd"},
		{"unknown room", []string{"nobody"}, nil, ""},
		{"everyone except a room", nil, []string{"video"}, "d"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := &Broadcast{nsp: n, rooms: tt.rooms, except: tt.except}
			got := ids(b.targets(nil))
			slices.Sort(got)
			if s := strings.Join(got, ""); s != tt.want {
				t.Fatalf("targets %q, want %q", s, tt.want)
			}
		})
	}
	sockets["a"].Leave("video")
	if got := n.RoomLen("video"); got != 2 {
		t.Fatalf("video has %d after a left", got)
	}
	sockets["d"].Leave("user:1")
	if got := n.RoomLen("user:1"); got != 1 || n.rooms["user:1"].many != nil {
		t.Fatalf("user:1 has %d (set kept: %v)", got, n.rooms["user:1"].many != nil)
	}
	sockets["a"].Leave("user:1")
	if _, ok := n.rooms["user:1"]; ok {
		t.Fatal("an empty room is kept")
	}
}
