package service

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"strings"
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
	domain map[string]<-chan *message.Message
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
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
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

func (r *running) fanout(t *testing.T, m contracts.FanoutMessage) {
	t.Helper()
	if m.ID == "" {
		m.ID = bus.NewID()
	}
	if err := bus.PublishJSON(context.Background(), r.bus.Fanout.Publisher(), contracts.TopicFanout, m.ID, "", m); err != nil {
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
