package domain

import (
	"maps"
	"math"
	"slices"
	"time"
)

// Settings bound what presence remembers and for how long.
type Settings struct {
	// DefaultLease is the lease an edge gets on first sight (its sockets
	// appear before its first heartbeat) and when a heartbeat names no TTL.
	DefaultLease time.Duration
	// ClosedRetention is how long a closed socket is remembered, so that a
	// join that arrives after its session.closed (they travel on different
	// topics, with no order between them) is ignored instead of leaving a
	// ghost member behind.
	ClosedRetention time.Duration
	// PositionRetention is how long a playback position is kept after its
	// last update.
	PositionRetention time.Duration
	// DedupeWindow is how long the id of a handled join is remembered, so
	// that a redelivery of it is not answered twice.
	DedupeWindow time.Duration
}

// DefaultSettings are the retention times used when a setting is zero.
var DefaultSettings = Settings{
	DefaultLease:      15 * time.Second,
	ClosedRetention:   10 * time.Minute,
	PositionRetention: 24 * time.Hour,
	DedupeWindow:      2 * time.Minute,
}

// Presence is who is where: the members of every counted room, keyed by
// socket; the edge each socket lives on and that edge's lease; the last
// playback position of each user per video. It is a plain data structure,
// not safe for concurrent use: a store serialises access to it.
//
// The rules:
//   - a socket is counted once per room, however often it joins;
//   - leaving a room the socket is not in changes nothing;
//   - join and leave carry the time the edge saw them; an older event than
//     the last one applied for that socket and room is stale and ignored
//     (redelivery or reordering can never resurrect a member);
//   - a closed socket leaves every room and is remembered for
//     ClosedRetention, so late joins for it are ignored;
//   - an edge gets a lease on first sight; when the lease runs out without
//     a heartbeat, every socket of the edge is closed.
//
// In embedded mode this state holds every connection of the process, so it
// is kept compact: sockets are referred to by pointer rather than by id,
// a socket's rooms are a short list rather than a map, and the members of
// a room share one copy of its name.
type Presence struct {
	settings  Settings
	rooms     map[string]*roomState
	sockets   map[string]*socketState
	edges     map[string]*edgeState
	closed    map[string]time.Time // socket → forget at
	positions map[positionKey]position
}

// roomState is a counted room with at least one member.
type roomState struct {
	name    string
	members map[*socketState]struct{}
}

type socketState struct {
	id   string // its key in sockets
	edge *edgeState
	// rooms records, per room the socket ever joined or left, whether it is
	// a member and the time of the event that said so; usually one or two.
	rooms []membership
}

type membership struct {
	room   string
	at     int64 // stamp of the event
	member bool
}

type edgeState struct {
	expires time.Time
	beat    time.Time // when the edge sent its last heartbeat applied
	sockets map[*socketState]struct{}
}

// stamp returns t as nanoseconds since the Unix epoch, saturated outside
// the years 1678 to 2262 that this can represent (event times, which
// come in milliseconds, are well inside).
func stamp(t time.Time) int64 {
	switch {
	case t.Before(minStamp):
		return math.MinInt64
	case t.After(maxStamp):
		return math.MaxInt64
	}
	return t.UnixNano()
}

var (
	minStamp = time.Unix(0, math.MinInt64)
	maxStamp = time.Unix(0, math.MaxInt64)
)

// membership returns the socket's record for room, or nil.
func (s *socketState) membership(room string) *membership {
	for i := range s.rooms {
		if s.rooms[i].room == room {
			return &s.rooms[i]
		}
	}
	return nil
}

// record returns the socket's record for room, adding one (not a member,
// no event yet) if there is none.
func (s *socketState) record(room string) *membership {
	if m := s.membership(room); m != nil {
		return m
	}
	s.rooms = append(s.rooms, membership{room: room, at: math.MinInt64})
	return &s.rooms[len(s.rooms)-1]
}

type positionKey struct{ user, video string }

type position struct {
	seconds float64
	at      time.Time
}

// NewPresence returns empty presence state. Zero settings take their value
// from DefaultSettings.
func NewPresence(s Settings) *Presence {
	if s.DefaultLease <= 0 {
		s.DefaultLease = DefaultSettings.DefaultLease
	}
	if s.ClosedRetention <= 0 {
		s.ClosedRetention = DefaultSettings.ClosedRetention
	}
	if s.PositionRetention <= 0 {
		s.PositionRetention = DefaultSettings.PositionRetention
	}
	return &Presence{
		settings:  s,
		rooms:     make(map[string]*roomState),
		sockets:   make(map[string]*socketState),
		edges:     make(map[string]*edgeState),
		closed:    make(map[string]time.Time),
		positions: make(map[positionKey]position),
	}
}

// Open records a new session: socket and its edge. The user is not kept:
// no rule depends on it.
func (p *Presence) Open(socket, user, edge string, now time.Time) {
	if p.isClosed(socket) {
		return
	}
	p.socket(socket, edge, now)
}

// Join adds socket (on edge) to room. at is when the edge saw the join. It
// returns the room's count and whether the membership changed.
func (p *Presence) Join(room, socket, edge string, at, now time.Time) (count int, changed bool) {
	if p.isClosed(socket) {
		return p.Count(room), false
	}
	s := p.socket(socket, edge, now)
	r := p.rooms[room]
	if r != nil {
		room = r.name // the members' shared copy
	}
	m := s.record(room)
	ts := stamp(at)
	if ts < m.at {
		return p.Count(room), false
	}
	wasMember := m.member
	m.member, m.at = true, ts
	if wasMember {
		return p.Count(room), false
	}
	if r == nil {
		r = &roomState{name: room, members: make(map[*socketState]struct{})}
		p.rooms[room] = r
	}
	r.members[s] = struct{}{}
	return len(r.members), true
}

// Leave removes socket (on edge) from room. at is when the edge saw the
// leave. It returns the room's count and whether the membership changed.
func (p *Presence) Leave(room, socket, edge string, at, now time.Time) (count int, changed bool) {
	if p.isClosed(socket) {
		return p.Count(room), false
	}
	// The socket is recorded even when it is in no room, so that the leave
	// wins over its own join if that arrives later.
	s := p.socket(socket, edge, now)
	if r := p.rooms[room]; r != nil {
		room = r.name
	}
	m := s.record(room)
	ts := stamp(at)
	if ts < m.at {
		return p.Count(room), false
	}
	wasMember := m.member
	m.member, m.at = false, ts
	if !wasMember {
		return p.Count(room), false
	}
	return p.removeMember(room, s), true
}

// Close removes socket from every room (its session ended) and returns the
// new counts of the rooms it was in, sorted by room.
func (p *Presence) Close(socket string, now time.Time) []RoomCount {
	p.closed[socket] = now.Add(p.settings.ClosedRetention)
	counts := make(map[string]int)
	p.removeSocket(socket, counts)
	return sortedCounts(counts)
}

// Heartbeat sets edge's lease to ttl from now (DefaultLease if ttl is not
// positive). at is when the edge sent it: a heartbeat older than the last
// one applied (reordered or redelivered) is ignored. The edge's own
// heartbeat replaces the lease it got on first sight.
func (p *Presence) Heartbeat(edge string, ttl time.Duration, at, now time.Time) {
	if ttl <= 0 {
		ttl = p.settings.DefaultLease
	}
	e := p.edge(edge, now)
	if at.Before(e.beat) {
		return
	}
	e.beat, e.expires = at, now.Add(ttl)
}

// Touch extends the lease of a known edge to at least ttl from now.
func (p *Presence) Touch(edge string, ttl time.Duration, now time.Time) {
	if ttl <= 0 {
		ttl = p.settings.DefaultLease
	}
	if e := p.edges[edge]; e != nil && e.expires.Before(now.Add(ttl)) {
		e.expires = now.Add(ttl)
	}
}

// ExpiredEdges returns the edges whose lease has run out at now, sorted.
func (p *Presence) ExpiredEdges(now time.Time) []string {
	var out []string
	for id, e := range p.edges {
		if !now.Before(e.expires) {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

// ExpireEdge closes every socket of edge if its lease has run out at now,
// and forgets the edge. It returns the new counts of the rooms those
// sockets were in (sorted by room) and whether the edge expired; an edge
// renewed since ExpiredEdges is left alone.
func (p *Presence) ExpireEdge(edge string, now time.Time) ([]RoomCount, bool) {
	e := p.edges[edge]
	if e == nil || now.Before(e.expires) {
		return nil, false
	}
	counts := make(map[string]int)
	for s := range e.sockets {
		p.closed[s.id] = now.Add(p.settings.ClosedRetention)
		p.removeSocket(s.id, counts)
	}
	delete(p.edges, edge)
	return sortedCounts(counts), true
}

// Count returns the number of sockets in room.
func (p *Presence) Count(room string) int {
	if r := p.rooms[room]; r != nil {
		return len(r.members)
	}
	return 0
}

// SetPosition records user's playback position in video.
func (p *Presence) SetPosition(user, video string, seconds float64, now time.Time) {
	p.positions[positionKey{user, video}] = position{seconds: seconds, at: now}
}

// Position returns user's last playback position in video.
func (p *Presence) Position(user, video string) (float64, bool) {
	pos, ok := p.positions[positionKey{user, video}]
	return pos.seconds, ok
}

// Forget drops what is past its retention at now: closed-socket markers
// and playback positions.
func (p *Presence) Forget(now time.Time) {
	for socket, until := range p.closed {
		if !now.Before(until) {
			delete(p.closed, socket)
		}
	}
	for k, pos := range p.positions {
		if !now.Before(pos.at.Add(p.settings.PositionRetention)) {
			delete(p.positions, k)
		}
	}
}

func (p *Presence) isClosed(socket string) bool {
	_, ok := p.closed[socket]
	return ok
}

// socket returns the state of socket, creating it, and moves it to edge if
// it was recorded on another one.
func (p *Presence) socket(id, edge string, now time.Time) *socketState {
	e := p.edge(edge, now)
	s := p.sockets[id]
	if s == nil {
		s = &socketState{id: id}
		p.sockets[id] = s
	} else if s.edge != e && s.edge != nil {
		delete(s.edge.sockets, s)
	}
	s.edge = e
	e.sockets[s] = struct{}{}
	return s
}

// edge returns the state of edge, giving it a lease on first sight.
func (p *Presence) edge(id string, now time.Time) *edgeState {
	e := p.edges[id]
	if e == nil {
		e = &edgeState{expires: now.Add(p.settings.DefaultLease), sockets: make(map[*socketState]struct{})}
		p.edges[id] = e
	}
	return e
}

// removeSocket forgets socket and records in counts the new count of every
// room it was in.
func (p *Presence) removeSocket(id string, counts map[string]int) {
	s := p.sockets[id]
	if s == nil {
		return
	}
	for _, m := range s.rooms {
		if m.member {
			counts[m.room] = p.removeMember(m.room, s)
		}
	}
	delete(s.edge.sockets, s)
	delete(p.sockets, id)
}

func (p *Presence) removeMember(room string, s *socketState) int {
	r := p.rooms[room]
	if r == nil {
		return 0
	}
	delete(r.members, s)
	if len(r.members) == 0 {
		delete(p.rooms, room)
		return 0
	}
	return len(r.members)
}

func sortedCounts(counts map[string]int) []RoomCount {
	if len(counts) == 0 {
		return nil
	}
	out := make([]RoomCount, 0, len(counts))
	for _, room := range slices.Sorted(maps.Keys(counts)) {
		out = append(out, RoomCount{Room: room, Count: counts[room]})
	}
	return out
}
