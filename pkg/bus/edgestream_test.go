package bus

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
)

func TestIsEdgeStream(t *testing.T) {
	for _, tc := range []struct {
		topic string
		want  bool
	}{
		{"realtime.fanout.edge.edge-1", true},
		{"realtime.fanout.edge.host-42", true},
		{"realtime.fanout", false},
		{"realtime.fanout.edge.", false}, // no edge id: not an edge's stream
		{"realtime.fanout.edges", false},
		{"realtime.video", false},
		{"", false},
	} {
		if got := IsEdgeStream(tc.topic); got != tc.want {
			t.Errorf("IsEdgeStream(%q) = %v, want %v", tc.topic, got, tc.want)
		}
	}
}

func TestConfigEdgeStreamTTL(t *testing.T) {
	base := map[string]string{"BUS": TransportDistributed}
	for _, tc := range []struct {
		ttl     string // "" leaves the default
		want    time.Duration
		wantErr string
	}{
		{"", 10 * time.Minute, ""},
		{"2m", 2 * time.Minute, ""},
		{"1m", time.Minute, ""},
		{"30s", 0, "FANOUT_EDGE_STREAM_TTL must be at least 1m0s, got 30s"},
	} {
		env := map[string]string{}
		for k, v := range base {
			env[k] = v
		}
		if tc.ttl != "" {
			env["FANOUT_EDGE_STREAM_TTL"] = tc.ttl
		}
		cfg, err := LoadConfig(env)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("TTL %q: error %v, want %q", tc.ttl, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("TTL %q: %v", tc.ttl, err)
			continue
		}
		if cfg.EdgeStreamTTL != tc.want {
			t.Errorf("TTL %q: got %s, want %s", tc.ttl, cfg.EdgeStreamTTL, tc.want)
		}
	}
}

// The in-memory bus (embedded mode) delivers an edge's own stream to its
// subscriber and to no other edge's.
func TestMemoryDeliversEdgeStreams(t *testing.T) {
	b := newTestBus(t)
	sub, _ := b.Fanout.Subscriber("edge")
	mine, err := sub.Subscribe(t.Context(), EdgeStreamPrefix+"a")
	if err != nil {
		t.Fatal(err)
	}
	other, err := sub.Subscribe(t.Context(), EdgeStreamPrefix+"b")
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Fanout.Publisher().Publish(EdgeStreamPrefix+"a", NewMessage("m1", "", []byte("for a"))); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-mine:
		m.Ack()
		if string(m.Payload) != "for a" {
			t.Fatalf("got %q", m.Payload)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("edge a got nothing")
	}
	// Order per subscription is publish order: a marker published after
	// the first message arrives after it, so edge b had its chance.
	if err := b.Fanout.Publisher().Publish(EdgeStreamPrefix+"b", NewMessage("m2", "", []byte("marker"))); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-other:
		m.Ack()
		if string(m.Payload) != "marker" {
			t.Fatalf("edge b got %q, meant for edge a", m.Payload)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("edge b got nothing")
	}
}

// On a real Redis an edge's stream is bounded by MAXLEN and expires ttl
// after the last publish, which its reader still receives; the shared
// stream gets no expiry.
func TestEdgeStreamIsBoundedAndExpires(t *testing.T) {
	b := openReal(t)
	cfg := b.Fanout.(*redisFanout).cfg
	rdb := newRedisClient(cfg)
	defer rdb.Close()
	ctx := t.Context()
	topic := EdgeStreamPrefix + "bustest-" + NewID()
	shared := "realtime.fanout.bustest." + NewID()
	t.Cleanup(func() { _ = rdb.Del(context.Background(), topic, shared).Err() })

	sub, _ := b.Fanout.Subscriber("edge")
	t.Cleanup(func() { _ = sub.Close() })
	ch, err := sub.Subscribe(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Fanout.Publisher().Publish(topic, NewMessage("m1", "", []byte("hello"))); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-ch:
		m.Ack()
		if string(m.Payload) != "hello" || m.UUID != "m1" {
			t.Fatalf("got %s %q", m.UUID, m.Payload)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the edge's reader got nothing")
	}
	ttl, err := rdb.PTTL(ctx, topic).Result()
	if err != nil {
		t.Fatal(err)
	}
	if ttl <= 0 || ttl > cfg.EdgeStreamTTL {
		t.Errorf("edge stream PTTL %s, want in (0, %s]", ttl, cfg.EdgeStreamTTL)
	}

	if err := b.Fanout.Publisher().Publish(shared, NewMessage("s1", "", []byte("x"))); err != nil {
		t.Fatal(err)
	}
	if ttl, err := rdb.PTTL(ctx, shared).Result(); err != nil || ttl != -1 {
		t.Errorf("shared stream PTTL %s (%v), want none (-1)", ttl, err)
	}

	// MAXLEN bounds it (approximately: Redis trims whole nodes). One
	// publish of many messages is one MULTI.
	p := &streamPublisher{client: rdb, maxLen: 1000, ttl: time.Minute}
	msgs := make([]*message.Message, 1500)
	for i := range msgs {
		msgs[i] = NewMessage(NewID(), "", []byte("x"))
	}
	if err := p.Publish(topic, msgs...); err != nil {
		t.Fatal(err)
	}
	n, err := rdb.XLen(ctx, topic).Result()
	if err != nil {
		t.Fatal(err)
	}
	if n < 1000 || n >= 1500 {
		t.Errorf("XLEN after 1501 entries with MAXLEN ~1000 = %d", n)
	}
	if ttl, _ := rdb.PTTL(ctx, topic).Result(); ttl <= 0 || ttl > time.Minute {
		t.Errorf("PTTL after a publish with ttl 1m = %s", ttl)
	}
}
