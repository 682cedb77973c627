// Package app lists the presence use cases: what happens on each trigger
// (a socket opens, joins, leaves, reports progress or closes; an edge sends
// a heartbeat or goes silent) and the background work that broadcasts
// coalesced counts and expires edge leases.
package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"realtime/contracts"
	"realtime/services/presence/internal/domain"
)

// Store holds presence state shared by every instance of the service. Each
// method is one atomic operation keyed by room, socket, user or edge (a
// Redis implementation runs each as one script or transaction), so any
// instance can handle any event. Times are passed in: now is the caller's
// clock, at is when the edge saw the event.
type Store interface {
	// OpenSession records socket (of user, "" if anonymous) on edge.
	OpenSession(ctx context.Context, socket, user, edge string, now time.Time) error
	// Join adds socket to room and returns the room's count and whether
	// the membership changed (false for a repeated or stale join). id is
	// the join event's id: if a join with that id was applied within the
	// dedupe window, Join changes nothing and returns ErrDuplicate; else it
	// records id in the same atomic step. An empty id is never a duplicate.
	Join(ctx context.Context, id, room, socket, edge string, at, now time.Time) (count int, changed bool, err error)
	// Leave removes socket from room, same results as Join.
	Leave(ctx context.Context, room, socket, edge string, at, now time.Time) (count int, changed bool, err error)
	// CloseSocket removes socket from every room and returns the new
	// counts of those rooms.
	CloseSocket(ctx context.Context, socket string, now time.Time) ([]domain.RoomCount, error)
	// Heartbeat sets edge's lease to ttl from now, unless a heartbeat sent
	// after at was already applied.
	Heartbeat(ctx context.Context, edge string, ttl time.Duration, at, now time.Time) error
	// Touch extends a lease edge holds to at least ttl from now; it neither
	// creates a lease nor shortens one.
	Touch(ctx context.Context, edge string, ttl time.Duration, now time.Time) error
	// ExpiredEdges lists the edges whose lease has run out.
	ExpiredEdges(ctx context.Context, now time.Time) ([]string, error)
	// ExpireEdge closes every socket of edge if its lease is still expired
	// (it may have been renewed since ExpiredEdges, or expired by another
	// instance) and returns the new counts of their rooms.
	ExpireEdge(ctx context.Context, edge string, now time.Time) (counts []domain.RoomCount, expired bool, err error)
	// Count returns the number of sockets in room.
	Count(ctx context.Context, room string) (int, error)
	// SetPosition records user's playback position in video.
	SetPosition(ctx context.Context, user, video string, seconds float64, now time.Time) error
}

// ErrDuplicate is Store.Join's answer to an event id it already applied.
var ErrDuplicate = errors.New("presence: event already handled")

// Fanout sends server→client events to the edges. The publisher assigns
// the message id.
type Fanout interface {
	Publish(ctx context.Context, msg contracts.FanoutMessage) error
}

// Config is what the use cases need to know.
type Config struct {
	// CountInterval is the shortest time between two count broadcasts to
	// one room.
	CountInterval time.Duration
	// EdgeTTL is the lease of an edge whose heartbeat names no TTL.
	EdgeTTL time.Duration
	// SweepInterval is how often expired edge leases are looked for.
	SweepInterval time.Duration
	// ExpiryGuard protects counts from a bus outage: an edge's lease is
	// only acted on while heartbeats are flowing, that is, the latest was
	// handled within ExpiryGuard and none of the gaps since ExpiryGuard ago
	// was longer. When no edge can get a heartbeat through (Kafka down),
	// no edge is declared dead; when the heartbeats of the others flow but
	// one edge stays silent, it is. 0 acts on leases alone.
	ExpiryGuard time.Duration
	// Shared says that other instances change the same counts (the store
	// is shared): broadcasts then follow domain.NewSharedCoalescer.
	Shared bool
	// Clock returns the current time; nil means time.Now.
	Clock func() time.Time
}

// Origin is where a socket event came from.
type Origin struct {
	EdgeID   string
	SocketID string
	UserID   string // "" for an anonymous session
	// EventID is the event's id, if it has one: Join drops a join whose id
	// it already handled (a redelivery), so the joiner is answered once.
	EventID string
}

// App is the presence service's use cases.
type App struct {
	store  Store
	fanout Fanout
	cfg    Config
	now    func() time.Time
	log    *slog.Logger

	mu        sync.Mutex
	coalescer *domain.Coalescer
	wake      chan struct{} // a room has a pending count change

	beatMu       sync.Mutex
	lastBeat     time.Time                // when this instance last handled a heartbeat
	flowingSince time.Time                // start of the current run of heartbeats without a long gap
	touched      map[string]time.Time     // edge → when this instance last extended its lease (touch)
	leaseTTL     map[string]time.Duration // edge → the lease its last heartbeat here asked for
}

// New returns the use cases over store and fanout.
func New(cfg Config, store Store, fanout Fanout, log *slog.Logger) (*App, error) {
	if cfg.CountInterval <= 0 || cfg.EdgeTTL <= 0 || cfg.SweepInterval <= 0 {
		return nil, errors.New("app: CountInterval, EdgeTTL and SweepInterval must be positive")
	}
	now := cfg.Clock
	if now == nil {
		now = time.Now
	}
	coalescer := domain.NewCoalescer(cfg.CountInterval)
	if cfg.Shared {
		coalescer = domain.NewSharedCoalescer(cfg.CountInterval)
	}
	return &App{
		store:     store,
		fanout:    fanout,
		cfg:       cfg,
		now:       now,
		log:       log,
		coalescer: coalescer,
		wake:      make(chan struct{}, 1),
		touched:   make(map[string]time.Time),
		leaseTTL:  make(map[string]time.Duration),
	}, nil
}

// touch extends the lease of the edge an event came from, at most once per
// EdgeTTL/10 per edge and instance. An edge's heartbeats share its topic
// partition with its session and room events: after a burst of
// connections, a heartbeat waits behind thousands of them, and an edge
// alive all along would be declared dead (all its sockets dropped) only
// because this worker is behind. Each event proves the edge lived when it
// was sent, so while its backlog is being worked through, the lease holds;
// a dead edge's events run out, and its lease expires EdgeTTL after the
// last one. The extension is the lease the edge's last heartbeat asked for;
// an edge whose heartbeat this instance has not handled is left alone.
// Best effort: the heartbeat remains the lease's source.
func (a *App) touch(ctx context.Context, edge string) {
	now := a.now()
	a.beatMu.Lock()
	ttl, known := a.leaseTTL[edge]
	if last, ok := a.touched[edge]; !known || (ok && now.Sub(last) < ttl/10) {
		a.beatMu.Unlock()
		return
	}
	a.touched[edge] = now
	a.beatMu.Unlock()
	if err := a.store.Touch(ctx, edge, ttl, now); err != nil {
		a.log.Debug("edge lease not extended", "edge", edge, "error", err)
	}
}

// OpenSession records a new socket, so that it is dropped with its edge
// even if it joins nothing.
func (a *App) OpenSession(ctx context.Context, o Origin) error {
	a.touch(ctx, o.EdgeID)
	return a.store.OpenSession(ctx, o.SocketID, o.UserID, o.EdgeID, a.now())
}

// CloseSession removes a closed socket from every room it was counted in.
func (a *App) CloseSession(ctx context.Context, o Origin) error {
	a.touch(ctx, o.EdgeID)
	counts, err := a.store.CloseSocket(ctx, o.SocketID, a.now())
	if err != nil {
		return err
	}
	a.changed(counts)
	return nil
}

// Heartbeat renews an edge's lease; a ttl that is not positive means the
// configured EdgeTTL. at is when the edge sent it.
func (a *App) Heartbeat(ctx context.Context, edgeID string, ttl time.Duration, at time.Time) error {
	if ttl <= 0 {
		ttl = a.cfg.EdgeTTL
	}
	now := a.now()
	if err := a.store.Heartbeat(ctx, edgeID, ttl, at, now); err != nil {
		return err
	}
	a.beatMu.Lock()
	if a.lastBeat.IsZero() || now.Sub(a.lastBeat) > a.cfg.ExpiryGuard {
		a.flowingSince = now
	}
	a.lastBeat = now
	a.leaseTTL[edgeID] = ttl
	a.beatMu.Unlock()
	return nil
}

// heartbeatsFlowing reports whether leases may be acted on (see
// Config.ExpiryGuard).
func (a *App) heartbeatsFlowing(now time.Time) bool {
	if a.cfg.ExpiryGuard <= 0 {
		return true
	}
	a.beatMu.Lock()
	defer a.beatMu.Unlock()
	return !a.lastBeat.IsZero() &&
		now.Sub(a.lastBeat) <= a.cfg.ExpiryGuard &&
		now.Sub(a.flowingSince) >= a.cfg.ExpiryGuard
}

// Join counts the socket in room, answers it at once with the room's
// count, and schedules a broadcast of the new count to the room. A
// redelivered join (same EventID) does nothing. The event id is recorded
// with the join itself, in one store operation: should the answer then
// fail to go out, a retry does not repeat it, but the room broadcast
// scheduled here reaches the joiner with the same count (counts are
// volatile anyway: a newer one supersedes a lost one).
func (a *App) Join(ctx context.Context, o Origin, room domain.Room, at time.Time) error {
	a.touch(ctx, o.EdgeID)
	count, changed, err := a.store.Join(ctx, o.EventID, room.String(), o.SocketID, o.EdgeID, at, a.now())
	if errors.Is(err, ErrDuplicate) {
		return nil
	}
	if err != nil {
		return err
	}
	if changed {
		a.changed([]domain.RoomCount{{Room: room.String(), Count: count}})
	}
	// Only the joiner's edge can deliver the answer: naming it sends the
	// answer to that edge's stream instead of every edge's.
	msg, err := countMessage(room, count, contracts.Target{Kind: contracts.TargetSocket, SocketID: o.SocketID, EdgeID: o.EdgeID})
	if err != nil {
		return err
	}
	return a.fanout.Publish(ctx, msg)
}

// Leave stops counting the socket in room and schedules a broadcast of the
// new count to the room.
func (a *App) Leave(ctx context.Context, o Origin, room domain.Room, at time.Time) error {
	a.touch(ctx, o.EdgeID)
	count, changed, err := a.store.Leave(ctx, room.String(), o.SocketID, o.EdgeID, at, a.now())
	if err != nil {
		return err
	}
	if changed {
		a.changed([]domain.RoomCount{{Room: room.String(), Count: count}})
	}
	return nil
}

// Progress records a user's playback position and tells the user's other
// devices (every socket of the user except the one that reported it).
// Anonymous sockets have no other devices.
func (a *App) Progress(ctx context.Context, o Origin, videoID string, seconds float64) error {
	if o.UserID == "" {
		return nil
	}
	if err := a.store.SetPosition(ctx, o.UserID, videoID, seconds, a.now()); err != nil {
		return err
	}
	data, err := json.Marshal(contracts.VideoSyncPayload{VideoID: videoID, Timestamp: seconds})
	if err != nil {
		return err
	}
	msg := contracts.FanoutMessage{
		Target: contracts.Target{Kind: contracts.TargetUser, UserID: o.UserID},
		Event:  contracts.ServerVideoSync,
		Data:   data,
	}
	if o.SocketID != "" {
		msg.Except = &contracts.Except{SocketID: o.SocketID}
	}
	return a.fanout.Publish(ctx, msg)
}

// ExpireEdges drops the sockets of every edge whose lease has run out (it
// died without saying goodbye) and schedules the corrected counts.
func (a *App) ExpireEdges(ctx context.Context) error {
	now := a.now()
	if !a.heartbeatsFlowing(now) {
		// No heartbeat gets through: the bus is down, not every edge.
		return nil
	}
	edges, err := a.store.ExpiredEdges(ctx, now)
	if err != nil {
		return err
	}
	var errs []error
	for _, edge := range edges {
		counts, expired, err := a.store.ExpireEdge(ctx, edge, now)
		if err != nil {
			errs = append(errs, fmt.Errorf("expire edge %s: %w", edge, err))
			continue
		}
		if expired {
			a.log.Warn("edge lease expired; its sockets left every room", "edge", edge, "rooms", len(counts))
			a.changed(counts)
			a.beatMu.Lock()
			delete(a.leaseTTL, edge)
			delete(a.touched, edge)
			a.beatMu.Unlock()
		}
	}
	a.mu.Lock()
	a.coalescer.Forget(now)
	a.mu.Unlock()
	return errors.Join(errs...)
}

// Run broadcasts coalesced counts and expires edge leases until ctx ends.
func (a *App) Run(ctx context.Context) {
	sweep := time.NewTicker(a.cfg.SweepInterval)
	defer sweep.Stop()
	timer := time.NewTimer(a.cfg.CountInterval)
	defer timer.Stop()
	for {
		a.FlushCounts(ctx)
		if next, ok := a.nextDue(); ok {
			timer.Reset(next.Sub(a.now()))
		} else {
			timer.Stop()
		}
		select {
		case <-ctx.Done():
			return
		case <-a.wake:
		case <-timer.C:
		case <-sweep.C:
			if err := a.ExpireEdges(ctx); err != nil && ctx.Err() == nil {
				a.log.Error("edge lease sweep failed", "error", err)
			}
		}
	}
}

// FlushCounts broadcasts the count of every room whose quiet period is
// over, if it changed since the last broadcast. The count is read from the
// store now, so the broadcast carries the latest value.
func (a *App) FlushCounts(ctx context.Context) {
	a.mu.Lock()
	rooms := a.coalescer.Due(a.now())
	a.mu.Unlock()
	for _, name := range rooms {
		room, ok := domain.ParseRoom(name)
		if !ok {
			continue
		}
		count, err := a.store.Count(ctx, name)
		if err == nil {
			a.mu.Lock()
			send := a.coalescer.Decide(name, count, a.now())
			a.mu.Unlock()
			if !send {
				continue
			}
			var msg contracts.FanoutMessage
			if msg, err = countMessage(room, count, contracts.Target{Kind: contracts.TargetRoom, Room: name}); err == nil {
				err = a.fanout.Publish(ctx, msg)
			}
		}
		if err != nil {
			if ctx.Err() == nil {
				a.log.Error("count broadcast failed; retrying after the quiet period", "room", name, "error", err)
			}
			a.mu.Lock()
			a.coalescer.Failed(name, a.now())
			a.mu.Unlock()
		}
	}
}

func (a *App) nextDue() (time.Time, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.coalescer.Next()
}

// changed marks rooms whose count changed and wakes the broadcast loop.
func (a *App) changed(counts []domain.RoomCount) {
	if len(counts) == 0 {
		return
	}
	now := a.now()
	a.mu.Lock()
	for _, c := range counts {
		a.coalescer.Changed(c.Room, now)
	}
	a.mu.Unlock()
	select {
	case a.wake <- struct{}{}:
	default:
	}
}

// countMessage is a room's count (video:viewers or chat:user-count) for
// target. Counts are volatile: a newer one supersedes a dropped one.
func countMessage(room domain.Room, count int, target contracts.Target) (contracts.FanoutMessage, error) {
	data, err := json.Marshal(contracts.CountPayload{VideoID: room.VideoID, Count: count})
	if err != nil {
		return contracts.FanoutMessage{}, err
	}
	return contracts.FanoutMessage{Target: target, Event: room.CountEvent(), Data: data, Volatile: true}, nil
}
