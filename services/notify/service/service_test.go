package service_test

import (
	"context"
	"encoding/json"
	"maps"
	"reflect"
	"slices"
	"testing"

	"github.com/ThreeDotsLabs/watermill/message/router/middleware"

	"realtime/contracts"
	"realtime/pkg/bus"
)

const ts = int64(1767225600000)

// want is the expected fan-out message, but for its id.
type want struct {
	target   contracts.Target
	except   *contracts.Except
	event    string
	data     string // JSON
	volatile bool
}

func (h *harness) assertFanout(got contracts.FanoutMessage, w want) {
	h.t.Helper()
	if !reflect.DeepEqual(got.Target, w.target) {
		h.t.Errorf("target = %+v, want %+v", got.Target, w.target)
	}
	if !reflect.DeepEqual(got.Except, w.except) {
		h.t.Errorf("except = %+v, want %+v", got.Except, w.except)
	}
	if got.Event != w.event {
		h.t.Errorf("event = %q, want %q", got.Event, w.event)
	}
	if got.Volatile != w.volatile {
		h.t.Errorf("volatile = %v, want %v", got.Volatile, w.volatile)
	}
	var gotData, wantData any
	if err := json.Unmarshal(got.Data, &gotData); err != nil {
		h.t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(w.data), &wantData); err != nil {
		h.t.Fatal(err)
	}
	if !reflect.DeepEqual(gotData, wantData) {
		h.t.Errorf("data = %s, want %s", got.Data, w.data)
	}
}

func TestPlatformEventsReachTheirRecipients(t *testing.T) {
	videoRoom := contracts.Target{Kind: "room", Room: "video:123"}
	tests := []struct {
		name  string
		event string
		want  want
	}{
		{
			name:  "video.view",
			event: `{"type":"video.view","videoId":"123","timestamp":1767225600000}`,
			want: want{target: videoRoom, event: "video:view", volatile: true,
				data: `{"videoId":"123","timestamp":1767225600000}`},
		},
		{
			name:  "video.like",
			event: `{"type":"video.like","videoId":"123","userId":"789","timestamp":1767225600000}`,
			want: want{target: videoRoom, event: "video:like", volatile: true,
				data: `{"videoId":"123","type":"video.like","timestamp":1767225600000}`},
		},
		{
			name:  "video.dislike",
			event: `{"type":"video.dislike","videoId":"123","userId":"789","timestamp":1767225600000}`,
			want: want{target: videoRoom, event: "video:like", volatile: true,
				data: `{"videoId":"123","type":"video.dislike","timestamp":1767225600000}`},
		},
		{
			name:  "comment.created",
			event: `{"type":"comment.created","videoId":"123","commentId":"456","timestamp":1767225600000}`,
			want: want{target: videoRoom, event: "video:comment",
				data: `{"videoId":"123","commentId":"456","timestamp":1767225600000}`},
		},
		{
			name: "notification.created",
			event: `{"type":"notification.created","userId":"789","notification":{"id":"n1","type":"new_video",` +
				`"title":"New video from Channel","message":"Check out the latest video!","timestamp":1767225600000}}`,
			want: want{target: contracts.Target{Kind: "user", UserID: "789"}, event: "notification",
				data: `{"id":"n1","type":"new_video","title":"New video from Channel",` +
					`"message":"Check out the latest video!","timestamp":1767225600000}`},
		},
		{
			name: "channel.video_published with an id",
			event: `{"id":"evt-42","type":"channel.video_published","channelId":"456","channelName":"Channel",` +
				`"videoId":"123","title":"My new video","timestamp":1767225600000}`,
			want: want{target: contracts.Target{Kind: "room", Room: "channel:456"}, event: "notification",
				data: `{"id":"evt-42","type":"new_video","title":"New video from Channel",` +
					`"message":"My new video","timestamp":1767225600000}`},
		},
		{
			name: "tolerant reader: unknown extra fields are ignored",
			event: `{"type":"comment.created","videoId":"123","commentId":"456","timestamp":1767225600000,` +
				`"authorId":"u1","text":"nice"}`,
			want: want{target: videoRoom, event: "video:comment",
				data: `{"videoId":"123","commentId":"456","timestamp":1767225600000}`},
		},
	}
	h := newHarness(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h.publish(contracts.TopicPlatformEvents, bus.NewID(), []byte(tt.event))
			h.assertFanout(h.nextFanout(), tt.want)
		})
	}
	if s := h.svc.Stats(); s.PlatformRelayed != uint64(len(tests)) || s.PlatformRejected != 0 {
		t.Errorf("stats = %+v", s)
	}
}

func TestChannelUploadNotificationIDIsStableWithoutEventID(t *testing.T) {
	h := newHarness(t)
	event := []byte(`{"type":"channel.video_published","channelId":"456","channelName":"Channel",` +
		`"videoId":"123","title":"My new video","timestamp":1767225600000}`)
	// The same upload, delivered twice as two transport messages (e.g. the
	// producer retried): both fan-outs name the same notification and share
	// a fan-out id, so an edge delivers it once.
	h.publish(contracts.TopicPlatformEvents, "m1", event)
	h.publish(contracts.TopicPlatformEvents, "m2", event)
	first, second := h.nextFanout(), h.nextFanout()

	var n1, n2 contracts.Notification
	_ = json.Unmarshal(first.Data, &n1)
	_ = json.Unmarshal(second.Data, &n2)
	if n1.ID == "" || n1.ID != n2.ID {
		t.Errorf("notification ids %q and %q, want one stable id", n1.ID, n2.ID)
	}
	if first.ID != second.ID {
		t.Errorf("fan-out ids %q and %q, want the same", first.ID, second.ID)
	}
	h.assertFanout(first, want{
		target: contracts.Target{Kind: "room", Room: "channel:456"}, event: "notification",
		data: `{"id":"` + n1.ID + `","type":"new_video","title":"New video from Channel",` +
			`"message":"My new video","timestamp":1767225600000}`,
	})
}

func TestInvalidPlatformEventsAreParkedAndDoNotBlock(t *testing.T) {
	h := newHarness(t)
	invalid := map[string]string{
		"bad-json":     `{"type":`,
		"unknown-type": `{"type":"video.deleted","videoId":"123","timestamp":1767225600000}`,
		"missing-field": `{"type":"notification.created","userId":"789","notification":{"id":"n1","type":"x",` +
			`"title":"t","message":"m"}}`,
		"wrong-type": `{"type":"video.view","videoId":123,"timestamp":1767225600000}`,
	}
	for id, payload := range invalid {
		h.publish(contracts.TopicPlatformEvents, id, []byte(payload))
	}
	h.publish(contracts.TopicPlatformEvents, "valid",
		[]byte(`{"type":"video.view","videoId":"123","timestamp":1767225600000}`))

	h.assertFanout(h.nextFanout(), want{
		target: contracts.Target{Kind: "room", Room: "video:123"}, event: "video:view", volatile: true,
		data: `{"videoId":"123","timestamp":1767225600000}`,
	})

	parked := map[string]bool{}
	for range invalid {
		msg := h.nextPoisoned()
		parked[msg.UUID] = true
		if msg.Metadata.Get(middleware.ReasonForPoisonedKey) == "" {
			t.Errorf("poisoned message %s carries no reason", msg.UUID)
		}
		if got := msg.Metadata.Get(middleware.PoisonedTopicKey); got != contracts.TopicPlatformEvents {
			t.Errorf("poisoned message %s: topic %q", msg.UUID, got)
		}
		if got := string(msg.Payload); got != invalid[msg.UUID] {
			t.Errorf("poisoned message %s: payload %s, want it unchanged", msg.UUID, got)
		}
	}
	for id := range invalid {
		if !parked[id] {
			t.Errorf("%s was not parked", id)
		}
	}

	h.awaitAcked(append(slices.Collect(maps.Keys(invalid)), "valid")...)
	if got := h.recorder.published(); len(got) != 1 {
		t.Errorf("published %v, want only the valid event's fan-out", got)
	}
	if s := h.svc.Stats(); s.PlatformRejected != uint64(len(invalid)) || s.PlatformRelayed != 1 {
		t.Errorf("stats = %+v, want %d rejected (each counted once) and 1 relayed", s, len(invalid))
	}
}

func TestReadReceiptGoesToTheUsersOtherDevices(t *testing.T) {
	h := newHarness(t)
	h.publish(contracts.TopicUser, "evt-read-1", userEvent("evt-read-1", "notification.read", "sock-A",
		map[string]any{"notificationId": "n1"}))

	h.assertFanout(h.nextFanout(), want{
		target: contracts.Target{Kind: "user", UserID: "789"},
		except: &contracts.Except{SocketID: "sock-A"},
		event:  "notifications:read",
		data:   `{"notificationId":"n1"}`,
	})
	h.awaitAcked("evt-read-1")
	ctx := context.Background()
	if read, err := h.svc.IsRead(ctx, "789", "n1"); err != nil || !read {
		t.Errorf("IsRead = %v, %v; want the receipt stored", read, err)
	}
	if read, _ := h.svc.IsRead(ctx, "789", "n2"); read {
		t.Error("n2 was never read")
	}
}

func TestSubscriptionsAreRecorded(t *testing.T) {
	h := newHarness(t)
	h.publish(contracts.TopicUser, "s1", userEvent("s1", "notifications.subscribed", "sock-A",
		map[string]any{"channelId": "456"}))
	h.publish(contracts.TopicUser, "s2", userEvent("s2", "notifications.subscribed", "sock-B",
		map[string]any{"channelId": "457"}))
	h.awaitAcked("s1", "s2")
	h.publish(contracts.TopicUser, "s3", userEvent("s3", "notifications.unsubscribed", "sock-A",
		map[string]any{"channelId": "456"}))
	h.awaitAcked("s3")

	got, err := h.svc.Subscriptions(context.Background(), "789")
	if err != nil || !slices.Equal(got, []string{"457"}) {
		t.Errorf("Subscriptions = %v, %v; want [457]", got, err)
	}
	if p := h.recorder.published(); len(p) != 0 {
		t.Errorf("subscriptions published %v; the edge joins the room itself", p)
	}
	if s := h.svc.Stats(); s.UserHandled != 3 {
		t.Errorf("stats = %+v", s)
	}
}

func TestOtherUserEventsAreLeftToOtherWorkers(t *testing.T) {
	h := newHarness(t)
	h.publish(contracts.TopicUser, "p1", userEvent("p1", "video.progress", "sock-A",
		map[string]any{"videoId": "123", "position": 45.5}))
	h.awaitAcked("p1")
	if p := h.recorder.published(); len(p) != 0 {
		t.Errorf("published %v for another worker's event", p)
	}
	if s := h.svc.Stats(); s.UserIgnored != 1 || s.UserRejected != 0 {
		t.Errorf("stats = %+v", s)
	}
}

func TestInvalidUserEventIsParked(t *testing.T) {
	h := newHarness(t)
	// anonymous read: realtime.user events require an authenticated user.
	bad := map[string]any{
		"id": "r1", "type": "notification.read", "occurredAt": ts, "edgeId": "edge-1",
		"socketId": "sock-A", "anonymous": true, "notificationId": "n1",
	}
	h.publish(contracts.TopicUser, "r1", bad)
	h.publish(contracts.TopicUser, "r2", userEvent("r2", "notification.read", "sock-A",
		map[string]any{"notificationId": "n2"}))

	if msg := h.nextPoisoned(); msg.UUID != "r1" {
		t.Errorf("parked %s, want r1", msg.UUID)
	}
	if got := h.nextFanout(); got.Event != "notifications:read" || string(got.Data) != `{"notificationId":"n2"}` {
		t.Errorf("fan-out %s %s, want the valid read receipt", got.Event, got.Data)
	}
	h.awaitAcked("r1", "r2")
	if s := h.svc.Stats(); s.UserRejected != 1 || s.UserHandled != 1 {
		t.Errorf("stats = %+v", s)
	}
}

func TestDuplicateEventsFanOutOnce(t *testing.T) {
	h := newHarness(t)
	view := []byte(`{"id":"evt-view-1","type":"video.view","videoId":"123","timestamp":1767225600000}`)
	read := userEvent("evt-read-1", "notification.read", "sock-A", map[string]any{"notificationId": "n1"})

	for range 3 {
		h.publish(contracts.TopicPlatformEvents, "evt-view-1", view)
		h.publish(contracts.TopicUser, "evt-read-1", read)
	}
	h.awaitAcked("evt-view-1", "evt-view-1", "evt-view-1", "evt-read-1", "evt-read-1", "evt-read-1")

	if p := h.recorder.published(); len(p) != 2 {
		t.Fatalf("published %v, want one fan-out per event", p)
	}
	events := []string{h.nextFanout().Event, h.nextFanout().Event}
	slices.Sort(events)
	if !slices.Equal(events, []string{"notifications:read", "video:view"}) {
		t.Errorf("fan-out events %v", events)
	}
	if s := h.svc.Stats(); s.Duplicates != 4 {
		t.Errorf("stats = %+v, want 4 duplicates", s)
	}
}

func TestRedeliveryUnderANewMessageIDKeepsTheFanoutID(t *testing.T) {
	// A producer that retries may wrap the same event in a new transport
	// message. Dedupe cannot see that, but the fan-out id comes from the
	// event id, so the edges, which drop repeated fan-out ids, still
	// deliver it once.
	h := newHarness(t)
	view := []byte(`{"id":"evt-view-2","type":"video.view","videoId":"123","timestamp":1767225600000}`)
	h.publish(contracts.TopicPlatformEvents, "m1", view)
	h.publish(contracts.TopicPlatformEvents, "m2", view)
	if a, b := h.nextFanout(), h.nextFanout(); a.ID != b.ID {
		t.Errorf("fan-out ids %q and %q, want equal", a.ID, b.ID)
	}
}

// userEvent is a valid domain event on realtime.user from user 789.
func userEvent(id, typ, socketID string, fields map[string]any) map[string]any {
	ev := map[string]any{
		"id": id, "type": typ, "occurredAt": ts, "edgeId": "edge-1",
		"socketId": socketID, "userId": "789", "anonymous": false,
	}
	for k, v := range fields {
		ev[k] = v
	}
	return ev
}
