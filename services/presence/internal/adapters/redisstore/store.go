// Package redisstore keeps presence state in Redis, shared by every
// presence instance and kept across restarts. Each app.Store operation that
// reads and writes is one Lua script, so it is atomic across instances;
// counts are set cardinalities, exact at every moment.
//
// Keys, under a prefix P (such as "presence:"); every key ends with one id,
// so no two ids share a key:
//
//	P room:<room>          set   member socket ids (count = SCARD)
//	P socket:<socket>      hash  edge, user, and t:<room> = time (ms) of the
//	                             latest join or leave of that room applied
//	P edge:<edge>          set   the edge's socket ids
//	P leases               zset  edge → lease expiry (ms)
//	P beats                hash  edge → send time (ms) of its latest heartbeat
//	P closed:<socket>      string  forget-at time (ms); PX ClosedRetention
//	P pos:<n>:<user>:<video> string  seconds; PX PositionRetention
//	                             (n = byte length of user, so ids may hold ':')
//	P handled:<event id>   string  a handled join; PX DedupeWindow (the
//	                             prefix can be moved: WithMarksUnder)
//
// Rooms, sockets and edges are deleted when they empty, close or expire;
// closed markers and positions expire on their own. The scripts derive keys
// from the prefix, so on Redis Cluster the prefix needs a hash tag (such as
// "{presence}:") that puts every key in one slot.
package redisstore

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"realtime/services/presence/internal/app"
	"realtime/services/presence/internal/domain"
)

// Store is the Redis implementation of app.Store.
type Store struct {
	client   redis.UniversalClient
	prefix   string
	marks    string // prefix of the handled-event marks
	settings domain.Settings
}

// Option changes a Store.
type Option func(*Store)

// WithMarksUnder keeps the marks of handled join events under prefix
// (prefix + event id) instead of the store prefix + "handled:". Giving it
// the prefix of the service's bus.RedisDedupe makes both share one set of
// marks. On Redis Cluster it needs the store prefix's hash tag.
func WithMarksUnder(prefix string) Option {
	return func(s *Store) { s.marks = prefix }
}

// New returns a store keeping its keys under prefix. Zero settings take
// their value from domain.DefaultSettings.
func New(client redis.UniversalClient, prefix string, s domain.Settings, opts ...Option) *Store {
	if s.DefaultLease <= 0 {
		s.DefaultLease = domain.DefaultSettings.DefaultLease
	}
	if s.ClosedRetention <= 0 {
		s.ClosedRetention = domain.DefaultSettings.ClosedRetention
	}
	if s.PositionRetention <= 0 {
		s.PositionRetention = domain.DefaultSettings.PositionRetention
	}
	if s.DedupeWindow <= 0 {
		s.DedupeWindow = domain.DefaultSettings.DedupeWindow
	}
	st := &Store{client: client, prefix: prefix, marks: prefix + "handled:", settings: s}
	for _, o := range opts {
		o(st)
	}
	return st
}

// lib holds the helpers every script shares; each script is lib followed by
// its body. ARGV[1] is the key prefix; KEYS[1] (the leases key) only routes
// the call on a cluster.
//
//go:embed lib.lua
var lib string

var (
	//go:embed open.lua
	openBody string
	//go:embed member.lua
	memberBody string
	//go:embed close.lua
	closeBody string
	//go:embed heartbeat.lua
	heartbeatBody string
	//go:embed expire.lua
	expireBody string

	openScript      = redis.NewScript(lib + openBody)
	memberScript    = redis.NewScript(lib + memberBody)
	closeScript     = redis.NewScript(lib + closeBody)
	heartbeatScript = redis.NewScript(lib + heartbeatBody)
	expireScript    = redis.NewScript(lib + expireBody)
)

func ms(t time.Time) int64      { return t.UnixMilli() }
func msd(d time.Duration) int64 { return max(d.Milliseconds(), 1) }

func (s *Store) key(parts ...string) string {
	return s.prefix + strings.Join(parts, "")
}

// run runs script with the prefix, the settings every script may need and
// args.
func (s *Store) run(ctx context.Context, script *redis.Script, args ...any) (any, error) {
	argv := append([]any{
		s.prefix,
		msd(s.settings.DefaultLease),
		msd(s.settings.ClosedRetention),
	}, args...)
	return script.Run(ctx, s.client, []string{s.key("leases")}, argv...).Result()
}

// OpenSession implements app.Store.
func (s *Store) OpenSession(ctx context.Context, socket, user, edge string, now time.Time) error {
	_, err := s.run(ctx, openScript, socket, user, edge, ms(now))
	if err != nil {
		return fmt.Errorf("redis open session: %w", err)
	}
	return nil
}

// Join implements app.Store: the join, the check of its event id and its
// mark are one script, one round trip.
func (s *Store) Join(ctx context.Context, id, room, socket, edge string, at, now time.Time) (int, bool, error) {
	return s.member(ctx, "join", id, room, socket, edge, at, now)
}

// Leave implements app.Store.
func (s *Store) Leave(ctx context.Context, room, socket, edge string, at, now time.Time) (int, bool, error) {
	return s.member(ctx, "leave", "", room, socket, edge, at, now)
}

func (s *Store) member(ctx context.Context, op, id, room, socket, edge string, at, now time.Time) (int, bool, error) {
	mark := ""
	if id != "" {
		mark = s.marks + id
	}
	res, err := s.run(ctx, memberScript, op, room, socket, edge, ms(at), ms(now), mark, msd(s.settings.DedupeWindow))
	if err != nil {
		return 0, false, fmt.Errorf("redis %s: %w", op, err)
	}
	v, ok := res.([]any)
	if !ok || len(v) != 2 {
		return 0, false, fmt.Errorf("redis %s: unexpected reply %v", op, res)
	}
	count, _ := v[0].(int64)
	changed, _ := v[1].(int64)
	if count < 0 {
		return 0, false, app.ErrDuplicate
	}
	return int(count), changed == 1, nil
}

// CloseSocket implements app.Store.
func (s *Store) CloseSocket(ctx context.Context, socket string, now time.Time) ([]domain.RoomCount, error) {
	res, err := s.run(ctx, closeScript, socket, ms(now))
	if err != nil {
		return nil, fmt.Errorf("redis close socket: %w", err)
	}
	return roomCounts(res)
}

// Heartbeat implements app.Store.
func (s *Store) Heartbeat(ctx context.Context, edge string, ttl time.Duration, at, now time.Time) error {
	if ttl <= 0 {
		ttl = s.settings.DefaultLease
	}
	if _, err := s.run(ctx, heartbeatScript, edge, msd(ttl), ms(at), ms(now)); err != nil {
		return fmt.Errorf("redis heartbeat: %w", err)
	}
	return nil
}

// Touch implements app.Store: ZADD XX GT only raises the expiry of an edge
// that already holds a lease.
func (s *Store) Touch(ctx context.Context, edge string, ttl time.Duration, now time.Time) error {
	if ttl <= 0 {
		ttl = s.settings.DefaultLease
	}
	err := s.client.ZAddArgs(ctx, s.key("leases"), redis.ZAddArgs{
		XX: true, GT: true,
		Members: []redis.Z{{Score: float64(ms(now.Add(ttl))), Member: edge}},
	}).Err()
	if err != nil {
		return fmt.Errorf("redis touch: %w", err)
	}
	return nil
}

// ExpiredEdges implements app.Store: the edges whose lease expiry is not
// after now, sorted. ExpireEdge re-checks each one.
func (s *Store) ExpiredEdges(ctx context.Context, now time.Time) ([]string, error) {
	edges, err := s.client.ZRangeByScore(ctx, s.key("leases"), &redis.ZRangeBy{
		Min: "-inf", Max: strconv.FormatInt(ms(now), 10),
	}).Result()
	if err != nil {
		return nil, fmt.Errorf("redis expired edges: %w", err)
	}
	slices.Sort(edges)
	if len(edges) == 0 {
		return nil, nil
	}
	return edges, nil
}

// ExpireEdge implements app.Store.
func (s *Store) ExpireEdge(ctx context.Context, edge string, now time.Time) ([]domain.RoomCount, bool, error) {
	res, err := s.run(ctx, expireScript, edge, ms(now))
	if err != nil {
		return nil, false, fmt.Errorf("redis expire edge: %w", err)
	}
	v, ok := res.([]any)
	if !ok || len(v) == 0 {
		return nil, false, fmt.Errorf("redis expire edge: unexpected reply %v", res)
	}
	if expired, _ := v[0].(int64); expired != 1 {
		return nil, false, nil
	}
	counts, err := roomCounts(v[1:])
	return counts, true, err
}

// Count implements app.Store.
func (s *Store) Count(ctx context.Context, room string) (int, error) {
	n, err := s.client.SCard(ctx, s.key("room:", room)).Result()
	if err != nil {
		return 0, fmt.Errorf("redis count: %w", err)
	}
	return int(n), nil
}

// SetPosition implements app.Store. The position expires
// PositionRetention after its last update.
func (s *Store) SetPosition(ctx context.Context, user, video string, seconds float64, _ time.Time) error {
	err := s.client.Set(ctx, s.positionKey(user, video),
		strconv.FormatFloat(seconds, 'g', -1, 64), s.settings.PositionRetention).Err()
	if err != nil {
		return fmt.Errorf("redis set position: %w", err)
	}
	return nil
}

// Position returns user's last playback position in video (for tests and
// diagnostics; no use case reads it yet).
func (s *Store) Position(ctx context.Context, user, video string) (float64, bool, error) {
	v, err := s.client.Get(ctx, s.positionKey(user, video)).Result()
	if errors.Is(err, redis.Nil) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("redis position: %w", err)
	}
	f, err := strconv.ParseFloat(v, 64)
	return f, err == nil, err
}

func (s *Store) positionKey(user, video string) string {
	return s.key("pos:", strconv.Itoa(len(user)), ":", user, ":", video)
}

// roomCounts decodes a flat {room, count, ...} reply, sorted by room.
func roomCounts(res any) ([]domain.RoomCount, error) {
	v, ok := res.([]any)
	if !ok || len(v)%2 != 0 {
		return nil, fmt.Errorf("redis: unexpected room counts %v", res)
	}
	if len(v) == 0 {
		return nil, nil
	}
	out := make([]domain.RoomCount, 0, len(v)/2)
	for i := 0; i < len(v); i += 2 {
		room, ok1 := v[i].(string)
		count, ok2 := v[i+1].(int64)
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("redis: unexpected room count %v %v", v[i], v[i+1])
		}
		out = append(out, domain.RoomCount{Room: room, Count: int(count)})
	}
	slices.SortFunc(out, func(a, b domain.RoomCount) int { return strings.Compare(a.Room, b.Room) })
	return out, nil
}
