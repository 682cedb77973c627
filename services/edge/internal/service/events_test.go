package service

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"realtime/contracts"
	"realtime/pkg/bus"
)

// running is an edge served with its fan-out router and heartbeat, on
// the in-memory bus, with the domain topics captured.
type running struct {
	base   string
	bus    *bus.Bus
	svc    *Service
	domain map[string]<-chan *message.Message
	stop   func() error // cancels Serve's context and returns its result
}

func startRunning(t *testing.T, env map[string]string) *running {
	t.Helper()
	log := testLogger(t)
	b := bus.NewMemory(log)
	t.Cleanup(func() { _ = b.Close() })
	r := &running{bus: b, domain: map[string]<-chan *message.Message{}}
	sub, _ := b.Domain.Subscriber("test")
	for _, topic := range []string{contracts.TopicSessions, contracts.TopicVideo, contracts.TopicChat, contracts.TopicUser, contracts.TopicPlatformEvents} {
		ch, err := sub.Subscribe(t.Context(), topic)
		if err != nil {
			t.Fatal(err)
		}
		r.domain[topic] = ch
	}
	svc, err := New(t.Context(), newTestConfig(t, env), b, log)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.Serve(ctx, ln) }()
	r.stop = sync.OnceValue(func() error {
		cancel()
		return <-done
	})
	t.Cleanup(func() {
		if err := r.stop(); err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	r.svc = svc
	r.base = "http://" + ln.Addr().String()
	waitHealthy(t, r.base)
	return r
}

func waitHealthy(t *testing.T, base string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		res, err := http.Get(base + "/health")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("edge not healthy")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// next returns the next domain event of type typ on topic, skipping others.
func (r *running) next(t *testing.T, topic, typ string) contracts.DomainEvent {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case msg := <-r.domain[topic]:
			msg.Ack()
			var e contracts.DomainEvent
			if err := json.Unmarshal(msg.Payload, &e); err != nil {
				t.Fatal(err)
			}
			if e.Type == typ {
				return e
			}
		case <-timeout:
			t.Fatalf("no %s on %s", typ, topic)
		}
	}
}

// fanout publishes m where a worker would: contracts.FanoutTopic.
func (r *running) fanout(t *testing.T, m contracts.FanoutMessage) {
	t.Helper()
	if m.ID == "" {
		m.ID = bus.NewID()
	}
	if err := bus.PublishJSON(context.Background(), r.bus.Fanout.Publisher(), contracts.FanoutTopic(m.Target), m.ID, "", m); err != nil {
		t.Fatal(err)
	}
}

func (r *running) client(t *testing.T, sub string) *pollingClient {
	t.Helper()
	c := handshake(t, r.base)
	auth := ""
	if sub != "" {
		auth = authPayload(hs256(t, testSecret, validClaims(sub)))
	}
	if got := c.connect(auth); !strings.HasPrefix(got, `40{"sid":`) {
		t.Fatalf("connect: %s", got)
	}
	return c
}

// receiveEvent polls until a packet other than a ping arrives.
func (c *pollingClient) receiveEvent() string {
	c.t.Helper()
	for {
		for len(c.buf) > 0 {
			p := c.buf[0]
			c.buf = c.buf[1:]
			if p != "2" {
				return p
			}
			c.send("3")
		}
		c.buf = c.poll()
	}
}

func TestJoinPublishesAndFanoutDelivers(t *testing.T) {
	r := startRunning(t, nil)
	a := r.client(t, "u1")
	opened := r.next(t, contracts.TopicSessions, contracts.DomainSessionOpened)
	if opened.UserID != "u1" || opened.SocketID == "" {
		t.Fatalf("session.opened %+v", opened)
	}
	a.send(`421["video:join",{"videoId":"123"}]`)
	if got := a.receiveEvent(); got != `431[{"ok":true}]` {
		t.Fatalf("ack %s", got)
	}
	joined := r.next(t, contracts.TopicVideo, contracts.DomainVideoJoined)
	if joined.VideoID != "123" || joined.UserID != "u1" || joined.SocketID != opened.SocketID {
		t.Fatalf("video.joined %+v", joined)
	}
	r.fanout(t, contracts.FanoutMessage{Target: contracts.Target{Kind: "room", Room: "video:123"}, Event: "video:viewers", Data: json.RawMessage(`{"videoId":"123","count":1}`), Volatile: true})
	if got := a.receiveEvent(); got != `42["video:viewers",{"videoId":"123","count":1}]` {
		t.Fatalf("fan-out %s", got)
	}
}

func TestFanoutTargetsAndDedupe(t *testing.T) {
	r := startRunning(t, nil)
	phone, laptop, other := r.client(t, "u1"), r.client(t, "u1"), r.client(t, "u2")
	phoneID := r.next(t, contracts.TopicSessions, contracts.DomainSessionOpened).SocketID
	sync := contracts.FanoutMessage{ID: "sync-1", Target: contracts.Target{Kind: "user", UserID: "u1"}, Except: &contracts.Except{SocketID: phoneID}, Event: "video:sync", Data: json.RawMessage(`{"videoId":"1","timestamp":45.5}`)}
	r.fanout(t, sync)
	r.fanout(t, sync) // a redelivery: clients must see it once
	marker := contracts.FanoutMessage{Target: contracts.Target{Kind: "all"}, Event: "video:view", Data: json.RawMessage(`{"videoId":"m","timestamp":1}`)}
	r.fanout(t, marker)
	want := `42["video:view",{"videoId":"m","timestamp":1}]`
	if got := laptop.receiveEvent(); got != `42["video:sync",{"videoId":"1","timestamp":45.5}]` {
		t.Fatalf("laptop got %s", got)
	}
	for name, c := range map[string]*pollingClient{"laptop": laptop, "phone (excepted)": phone, "other user": other} {
		if got := c.receiveEvent(); got != want {
			t.Fatalf("%s got %s before the marker", name, got)
		}
	}
}

// A message for one socket reaches it on its edge's own stream, and on the
// shared stream when the producer did not name the edge; one meant for a
// socket of another edge is not on this edge's streams at all.
func TestSocketTargetsOnTheEdgesOwnStream(t *testing.T) {
	r := startRunning(t, nil)
	a := r.client(t, "u1")
	opened := r.next(t, contracts.TopicSessions, contracts.DomainSessionOpened)
	if opened.EdgeID != r.svc.cfg.InstanceID {
		t.Fatalf("session.opened from edge %q, want %q", opened.EdgeID, r.svc.cfg.InstanceID)
	}
	count := func(n int) json.RawMessage {
		return json.RawMessage(`{"videoId":"123","count":` + strconv.Itoa(n) + `}`)
	}
	for _, tc := range []struct {
		name   string
		target contracts.Target
		want   bool
	}{
		{"own stream", contracts.Target{Kind: contracts.TargetSocket, SocketID: opened.SocketID, EdgeID: opened.EdgeID}, true},
		{"shared stream, no edge named", contracts.Target{Kind: contracts.TargetSocket, SocketID: opened.SocketID}, true},
		{"another edge's stream", contracts.Target{Kind: contracts.TargetSocket, SocketID: opened.SocketID, EdgeID: "edge-elsewhere"}, false},
	} {
		r.fanout(t, contracts.FanoutMessage{Target: tc.target, Event: contracts.ServerVideoViewers, Data: count(1), Volatile: true})
		// A marker behind it on the stream it went to (or the shared one)
		// shows whether it arrived first.
		marker := tc.target
		if !tc.want {
			marker.EdgeID = ""
		}
		r.fanout(t, contracts.FanoutMessage{Target: marker, Event: contracts.ServerVideoViewers, Data: count(2), Volatile: true})
		first := a.receiveEvent()
		got := first == `42["video:viewers",{"videoId":"123","count":1}]`
		if got != tc.want {
			t.Fatalf("%s: received %s first", tc.name, first)
		}
		if got {
			if marker := a.receiveEvent(); marker != `42["video:viewers",{"videoId":"123","count":2}]` {
				t.Fatalf("%s: marker %s", tc.name, marker)
			}
		}
	}
}

func TestInvalidPayloadsGetErrors(t *testing.T) {
	r := startRunning(t, nil)
	anon := r.client(t, "")
	tests := []struct{ send, ack, event string }{
		{`421["video:join",{"videoId":5}]`, `431[{"error":"videoId: expected string, got number"}]`, `42["error",{"message":"videoId: expected string, got number","event":"video:join"}]`},
		{`422["video:join"]`, `432[{"error":"payload required"}]`, `42["error",{"message":"payload required","event":"video:join"}]`},
		{`423["chat:message",{"videoId":"1","message":"hi"}]`, `433[{"error":"Anonymous users cannot post in chat"}]`, `42["error",{"message":"Anonymous users cannot post in chat","event":"chat:message"}]`},
		{`42["notifications:read",{"notificationId":"n"}]`, "", `42["error",{"message":"Sign in to mark notifications as read","event":"notifications:read"}]`},
	}
	for _, tt := range tests {
		anon.send(tt.send)
		if tt.ack != "" {
			if got := anon.receiveEvent(); got != tt.ack {
				t.Fatalf("%s: ack %s, want %s", tt.send, got, tt.ack)
			}
		}
		if got := anon.receiveEvent(); got != tt.event {
			t.Fatalf("%s: event %s, want %s", tt.send, got, tt.event)
		}
	}
}

func TestInternalEvents(t *testing.T) {
	r := startRunning(t, map[string]string{"ADMIN_TOKEN": "admin-secret"})
	post := func(token, body string) (int, string) {
		req, _ := http.NewRequest(http.MethodPost, r.base+"/internal/events", strings.NewReader(body))
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(res.Body).Decode(&out)
		b, _ := json.Marshal(out)
		return res.StatusCode, string(b)
	}
	valid := `{"type":"video.view","videoId":"123","timestamp":1767225600000}`
	if code, _ := post("", valid); code != http.StatusUnauthorized {
		t.Fatalf("no token: %d", code)
	}
	if code, _ := post("wrong", valid); code != http.StatusUnauthorized {
		t.Fatalf("wrong token: %d", code)
	}
	if code, body := post("admin-secret", `{"type":"video.view","videoId":5}`); code != http.StatusBadRequest || !strings.Contains(body, "invalid event") {
		t.Fatalf("invalid: %d %s", code, body)
	}
	code, body := post("admin-secret", valid)
	if code != http.StatusAccepted {
		t.Fatalf("valid: %d %s", code, body)
	}
	select {
	case msg := <-r.domain[contracts.TopicPlatformEvents]:
		msg.Ack()
		if string(msg.Payload) != valid || msg.Metadata.Get(bus.KeyMetadata) != "123" {
			t.Fatalf("published %s key %q", msg.Payload, msg.Metadata.Get(bus.KeyMetadata))
		}
	case <-time.After(5 * time.Second):
		t.Fatal("platform event not published")
	}
}

func TestInternalEventsDisabledWithoutToken(t *testing.T) {
	r := startRunning(t, nil)
	res, err := http.Post(r.base+"/internal/events", "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode == http.StatusAccepted || res.StatusCode == http.StatusBadRequest {
		t.Fatalf("disabled endpoint answered %d", res.StatusCode)
	}
}

// A join is acked once the local room is joined and its event queued; the
// events are published after, and the edge's shutdown publishes the
// session.closed of the sockets it closes before Serve returns.
func TestMembershipEventsInOrderAndDrainedOnShutdown(t *testing.T) {
	r := startRunning(t, nil)
	a := r.client(t, "u1")
	a.send(`421["video:join",{"videoId":"7"}]`, `422["chat:join",{"videoId":"7"}]`, `423["video:leave",{"videoId":"7"}]`)
	for _, want := range []string{`431[{"ok":true}]`, `432[{"ok":true}]`, `433[{"ok":true}]`} {
		if got := a.receiveEvent(); got != want {
			t.Fatalf("ack %s, want %s", got, want)
		}
	}
	if err := r.stop(); err != nil {
		t.Fatalf("Serve: %v", err)
	}
	// Everything was published before Serve returned: the bus holds it.
	opened := r.next(t, contracts.TopicSessions, contracts.DomainSessionOpened)
	closed := r.next(t, contracts.TopicSessions, contracts.DomainSessionClosed)
	joined := r.next(t, contracts.TopicVideo, contracts.DomainVideoJoined)
	left := r.next(t, contracts.TopicVideo, contracts.DomainVideoLeft)
	chat := r.next(t, contracts.TopicChat, contracts.DomainChatJoined)
	// (Their order across topics is not observable here; the outbox's
	// tests check it.)
	for _, e := range []contracts.DomainEvent{joined, chat, left, closed} {
		if e.SocketID != opened.SocketID {
			t.Fatalf("%s of socket %s, want %s", e.Type, e.SocketID, opened.SocketID)
		}
	}
	st := r.svc.OutboxStats()
	if st.Published.Load() != 5 || st.Queued.Load() != 0 || st.Dropped.Load() != 0 || st.Refused.Load() != 0 {
		t.Fatalf("outbox: published %d queued %d dropped %d refused %d", st.Published.Load(), st.Queued.Load(), st.Dropped.Load(), st.Refused.Load())
	}
}

// With the outbox full, a join is refused with the usual "try again"
// error, as an ack and as an error event, and the socket is not left in
// the room.
func TestFullOutboxRefusesJoin(t *testing.T) {
	// Served without Serve: the outbox never drains, one event fills it.
	svc, base := startHTTP(t, map[string]string{"OUTBOX_CAPACITY": "1"})
	c := handshake(t, base)
	if reply := c.connect(""); !strings.HasPrefix(reply, "40{") {
		t.Fatalf("connect: %q", reply)
	}
	c.send(`421["video:join",{"videoId":"7"}]`)
	got := c.receive(2)
	want := []string{
		`431[{"error":"service temporarily unavailable, try again"}]`,
		`42["error",{"message":"service temporarily unavailable, try again","event":"video:join"}]`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if st := svc.OutboxStats(); st.Refused.Load() != 1 || st.Queued.Load() != 1 {
		t.Fatalf("outbox: refused %d queued %d", st.Refused.Load(), st.Queued.Load())
	}
	if n := svc.Sockets().Of("/").RoomLen(contracts.VideoRoom("7")); n != 0 {
		t.Fatalf("%d sockets in the room of a refused join", n)
	}
}

// The bus bounds and expires the streams that the contract names as the
// edges' own, and only those: the two packages cannot see each other.
func TestEdgeStreamNamesAgreeWithTheBus(t *testing.T) {
	if contracts.TopicEdgeFanoutPrefix != bus.EdgeStreamPrefix {
		t.Fatalf("contract prefix %q, bus prefix %q", contracts.TopicEdgeFanoutPrefix, bus.EdgeStreamPrefix)
	}
	if topic := contracts.EdgeFanoutTopic("edge-1"); !bus.IsEdgeStream(topic) {
		t.Errorf("bus does not treat %q as an edge's stream", topic)
	}
	if bus.IsEdgeStream(contracts.TopicFanout) {
		t.Errorf("bus treats the shared %q as an edge's stream", contracts.TopicFanout)
	}
}
