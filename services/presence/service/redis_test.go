package service_test

import (
	"strings"
	"testing"
	"time"

	"realtime/contracts"
	"realtime/services/presence/internal/adapters/storetest"
	"realtime/services/presence/service"
)

// forEachStore runs f with the service's state in memory, then in Redis
// (skipped without REDIS_ADDR).
func forEachStore(t *testing.T, f func(t *testing.T, opts []service.Option)) {
	t.Run("memory", func(t *testing.T) { f(t, nil) })
	t.Run("redis", func(t *testing.T) { f(t, redisOptions(t)) })
}

// redisOptions keeps the state in the Redis at REDIS_ADDR, under a key
// prefix of this test's own, deleted when it ends.
func redisOptions(t *testing.T) []service.Option {
	newClient, prefix := storetest.Redis(t)
	return []service.Option{service.WithRedis(newClient()), service.WithKeyPrefix(prefix)}
}

// TestRestartContinuesTheCounts stops presence and starts a new instance on
// the same Redis: it knows every member, edge and handled event id of the
// first one.
func TestRestartContinuesTheCounts(t *testing.T) {
	opts := redisOptions(t)
	first := start(t, testConfig(), opts...)
	first.publish(heartbeat("edge-1", time.Hour))
	first.publish(heartbeat("edge-2", time.Hour))
	first.publish(videoEvent(contracts.DomainVideoJoined, "edge-1", "s1", "u1", "123"))
	first.publish(videoEvent(contracts.DomainVideoJoined, "edge-2", "s2", "u2", "123"))
	join := first.publish(videoEvent(contracts.DomainVideoJoined, "edge-2", "s3", "", "123"))
	first.expect("count 3 for the third joiner", count(contracts.ServerVideoViewers, toSocket("edge-2", "s3"), 3))
	first.publish(videoEvent(contracts.DomainChatJoined, "edge-2", "s2", "u2", "123"))
	first.expect("chatter count 1", count(contracts.ServerChatUserCount, toSocket("edge-2", "s2"), 1))
	first.stop()

	second := start(t, testConfig(), opts...)
	second.publish(join) // redelivered after the restart: already handled
	if got := second.matching(event(contracts.ServerVideoViewers)); len(got) != 0 {
		t.Fatalf("a join handled before the restart was answered again: %v", got)
	}
	second.publish(videoEvent(contracts.DomainVideoJoined, "edge-1", "s4", "u4", "123"))
	second.expect("count 4 for a joiner after the restart", count(contracts.ServerVideoViewers, toSocket("edge-1", "s4"), 4))
	four := second.expect("room broadcast of count 4", count(contracts.ServerVideoViewers, toRoom("video:123"), 4))

	second.publish(socketEvent(contracts.DomainSessionClosed, "edge-1", "s1", "u1"))
	three := second.expectAfter(four, "room broadcast of count 3 after a socket joined before the restart closed",
		count(contracts.ServerVideoViewers, toRoom("video:123"), 3))

	// edge-2's last heartbeat: its sockets, joined before the restart, go.
	second.publish(heartbeat("edge-2", time.Millisecond))
	second.expectAfter(three, "room broadcast of count 1 after edge-2's lease expired",
		count(contracts.ServerVideoViewers, toRoom("video:123"), 1))
	second.expect("chat room broadcast of count 0 after edge-2's lease expired",
		count(contracts.ServerChatUserCount, toRoom("chat:123"), 0))
}

// TestTwoInstancesShareTheCounts runs two presence instances on one Redis,
// each handling its own events, as two consumers of one group do (events
// of one socket may reach both: sessions are keyed by edge, memberships by
// video). Each instance's count broadcasts end with the final count.
func TestTwoInstancesShareTheCounts(t *testing.T) {
	opts := redisOptions(t)
	a := start(t, testConfig(), opts...)
	b := start(t, testConfig(), opts...)
	a.publish(videoEvent(contracts.DomainVideoJoined, "edge-1", "s1", "u1", "123"))
	a.expect("count 1 from instance a", count(contracts.ServerVideoViewers, toSocket("edge-1", "s1"), 1))
	b.publish(videoEvent(contracts.DomainVideoJoined, "edge-2", "s2", "u2", "123"))
	b.expect("count 2 from instance b", count(contracts.ServerVideoViewers, toSocket("edge-2", "s2"), 2))
	b2 := b.expect("room broadcast of count 2 from instance b", count(contracts.ServerVideoViewers, toRoom("video:123"), 2))
	a.publish(videoEvent(contracts.DomainVideoJoined, "edge-2", "s3", "u3", "123"))
	a.expect("count 3 from instance a", count(contracts.ServerVideoViewers, toSocket("edge-2", "s3"), 3))
	a.expect("room broadcast of count 3 from instance a", count(contracts.ServerVideoViewers, toRoom("video:123"), 3))

	// Back at the count b sent last; b must send it again, as a sent 3 since.
	b.publish(socketEvent(contracts.DomainSessionClosed, "edge-1", "s1", "u1"))
	b.expectAfter(b2, "room broadcast of count 2 again from instance b", count(contracts.ServerVideoViewers, toRoom("video:123"), 2))
}

// TestStateKeysLiveUnderThePrefix checks where WithRedis puts its keys.
func TestStateKeysLiveUnderThePrefix(t *testing.T) {
	newClient, prefix := storetest.Redis(t)
	c := newClient()
	h := start(t, testConfig(), service.WithRedis(c), service.WithKeyPrefix(prefix))
	ev := h.publish(videoEvent(contracts.DomainVideoJoined, "edge-1", "s1", "u1", "123"))
	keys, err := storetest.Keys(t.Context(), c, prefix)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{
		"presence:room:video:123": true, "presence:socket:s1": true, "presence:edge:edge-1": true,
		"presence:leases": true, "dedupe:presence:" + ev.ID: true,
	}
	for _, k := range keys {
		delete(want, strings.TrimPrefix(k, prefix))
	}
	if len(want) != 0 {
		t.Fatalf("keys %q lack %v", keys, want)
	}
}
