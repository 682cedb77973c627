package contracts

import (
	"encoding/json"
	"testing"
)

func ptr[T any](v T) *T { return &v }

// The Go types must encode to payloads the schemas accept.
func TestTypesMatchSchemas(t *testing.T) {
	reg, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	origin := func(typ string) DomainEvent {
		return DomainEvent{ID: "01J9Z3W6Q8X1V2B3C4D5E6F7G8", Type: typ, OccurredAt: 1767225600000, EdgeID: "edge-1", SocketID: "sock1", UserID: "789", Anonymous: ptr(false)}
	}
	with := func(e DomainEvent, f func(*DomainEvent)) DomainEvent { f(&e); return e }
	data := func(v any) json.RawMessage { b, _ := json.Marshal(v); return b }
	tests := []struct {
		name string
		v    any
	}{
		{"domain/session.opened", origin("session.opened")},
		{"domain/session.closed", origin("session.closed")},
		{"domain/edge.heartbeat", DomainEvent{ID: "h1", Type: "edge.heartbeat", OccurredAt: 1, EdgeID: "edge-1", TTLMs: 15000, Sockets: ptr(3)}},
		{"domain/video.joined", with(origin("video.joined"), func(e *DomainEvent) { e.VideoID = "123" })},
		{"domain/video.progress", with(origin("video.progress"), func(e *DomainEvent) { e.VideoID = "123"; e.Position = ptr(45.5) })},
		{"domain/chat.message_requested", with(origin("chat.message_requested"), func(e *DomainEvent) { e.VideoID = "123"; e.Message = "hi" })},
		{"domain/chat.typing", with(origin("chat.typing"), func(e *DomainEvent) { e.VideoID = "123"; e.IsTyping = ptr(false) })},
		{"domain/notifications.subscribed", with(origin("notifications.subscribed"), func(e *DomainEvent) { e.ChannelID = "456" })},
		{"domain/notification.read", with(origin("notification.read"), func(e *DomainEvent) { e.NotificationID = "n1" })},
		{"domain/video.joined", with(origin("video.joined"), func(e *DomainEvent) { e.VideoID = "1"; e.UserID = ""; e.Anonymous = ptr(true) })},
		{"platform/platform-event", PlatformEvent{Type: "video.view", VideoID: "1", Timestamp: 2}},
		{"platform/platform-event", PlatformEvent{Type: "notification.created", UserID: "u", Notification: &Notification{ID: "1", Type: "t", Title: "x", Message: "m", Timestamp: 1}}},
		{"fanout/message", FanoutMessage{ID: "f1", Target: Target{Kind: "room", Room: "video:1"}, Event: "video:viewers", Data: data(CountPayload{VideoID: "1", Count: 0}), Volatile: true}},
		{"fanout/message", FanoutMessage{ID: "f2", Target: Target{Kind: "user", UserID: "u"}, Except: &Except{SocketID: "s"}, Event: "video:sync", Data: data(VideoSyncPayload{VideoID: "1", Timestamp: 4.5})}},
		{"fanout/message", FanoutMessage{ID: "f3", Target: Target{Kind: "socket", SocketID: "s"}, Event: "error", Data: data(ErrorPayload{Message: "Rate limit exceeded", Event: "chat:message"})}},
		{"fanout/message", FanoutMessage{ID: "f4", Target: Target{Kind: "socket", SocketID: "s", EdgeID: "edge-1"}, Event: "video:viewers", Data: data(CountPayload{VideoID: "1", Count: 2}), Volatile: true}},
		{"server/chat:message", ChatMessagePayload{ID: "m1", VideoID: "1", UserID: "u", Message: "hi", Timestamp: 1}},
		{"server/chat:typing", ChatTypingPayload{UserID: "u", IsTyping: true, VideoID: "1"}},
		{"server/video:like", VideoLikePayload{VideoID: "1", Type: "video.dislike", Timestamp: 1}},
		{"server/video:comment", VideoCommentPayload{VideoID: "1", CommentID: "c", Timestamp: 1}},
		{"server/notifications:read", NotificationReadPayload{NotificationID: "n"}},
	}
	for _, tt := range tests {
		b, err := json.Marshal(tt.v)
		if err != nil {
			t.Fatal(err)
		}
		if err := reg.Validate(tt.name, b); err != nil {
			t.Errorf("%s %s: %v", tt.name, b, err)
		}
	}
}
