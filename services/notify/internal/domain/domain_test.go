package domain_test

import (
	"errors"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"realtime/contracts"
	"realtime/services/notify/internal/domain"
)

const ts = int64(1767225600000)

func room(r string) contracts.Target { return contracts.Target{Kind: contracts.TargetRoom, Room: r} }
func user(u string) contracts.Target { return contracts.Target{Kind: contracts.TargetUser, UserID: u} }

func TestRelayPlatformEvent(t *testing.T) {
	published := contracts.PlatformEvent{
		Type: contracts.PlatformChannelVideoPublished, ChannelID: "456", ChannelName: "Channel",
		VideoID: "123", Title: "My new video", Timestamp: ts,
	}
	tests := []struct {
		name string
		in   contracts.PlatformEvent
		want domain.Delivery
	}{
		{
			name: "video.view goes to the video's viewers, volatile",
			in:   contracts.PlatformEvent{Type: "video.view", VideoID: "123", Timestamp: ts},
			want: domain.Delivery{
				Target: room("video:123"), Event: "video:view", Volatile: true,
				Data: contracts.VideoTimestampPayload{VideoID: "123", Timestamp: ts},
			},
		},
		{
			name: "video.like keeps its type, volatile",
			in:   contracts.PlatformEvent{Type: "video.like", VideoID: "123", UserID: "789", Timestamp: ts},
			want: domain.Delivery{
				Target: room("video:123"), Event: "video:like", Volatile: true,
				Data: contracts.VideoLikePayload{VideoID: "123", Type: "video.like", Timestamp: ts},
			},
		},
		{
			name: "video.dislike is a video:like of type video.dislike",
			in:   contracts.PlatformEvent{Type: "video.dislike", VideoID: "123", UserID: "789", Timestamp: ts},
			want: domain.Delivery{
				Target: room("video:123"), Event: "video:like", Volatile: true,
				Data: contracts.VideoLikePayload{VideoID: "123", Type: "video.dislike", Timestamp: ts},
			},
		},
		{
			name: "comment.created must be delivered",
			in:   contracts.PlatformEvent{Type: "comment.created", VideoID: "123", CommentID: "456", Timestamp: ts},
			want: domain.Delivery{
				Target: room("video:123"), Event: "video:comment",
				Data: contracts.VideoCommentPayload{VideoID: "123", CommentID: "456", Timestamp: ts},
			},
		},
		{
			name: "notification.created goes to every device of the user, unchanged",
			in: contracts.PlatformEvent{Type: "notification.created", UserID: "789", Notification: &contracts.Notification{
				ID: "n1", Type: "new_video", Title: "New video from Channel", Message: "Check it out", Timestamp: ts,
			}},
			want: domain.Delivery{
				Target: user("789"), Event: "notification",
				Data: contracts.Notification{
					ID: "n1", Type: "new_video", Title: "New video from Channel", Message: "Check it out", Timestamp: ts,
				},
			},
		},
		{
			name: "channel.video_published notifies the channel's subscribers",
			in:   published,
			want: domain.Delivery{
				Target: room("channel:456"), Event: "notification",
				Data: contracts.Notification{
					ID: domain.ChannelVideoNotificationID(published), Type: "new_video",
					Title: "New video from Channel", Message: "My new video", Timestamp: ts,
				},
			},
		},
		{
			name: "channel.video_published with an id uses it as the notification id",
			in:   withID(published, "evt-1"),
			want: domain.Delivery{
				Target: room("channel:456"), Event: "notification",
				Data: contracts.Notification{
					ID: "evt-1", Type: "new_video", Title: "New video from Channel", Message: "My new video", Timestamp: ts,
				},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := domain.RelayPlatformEvent(tt.in)
			if err != nil {
				t.Fatalf("RelayPlatformEvent: %v", err)
			}
			got.IdempotencyKey = "" // covered by TestIdempotencyKeys
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestRelayPlatformEventRejects(t *testing.T) {
	tests := []struct {
		name string
		in   contracts.PlatformEvent
		want error
	}{
		{"unknown type", contracts.PlatformEvent{Type: "video.deleted", VideoID: "1"}, domain.ErrUnknownEvent},
		{"no type", contracts.PlatformEvent{VideoID: "1"}, domain.ErrUnknownEvent},
		{"view without video", contracts.PlatformEvent{Type: "video.view", Timestamp: ts}, domain.ErrInvalidEvent},
		{"like without video", contracts.PlatformEvent{Type: "video.like", Timestamp: ts}, domain.ErrInvalidEvent},
		{"comment without comment id", contracts.PlatformEvent{Type: "comment.created", VideoID: "1"}, domain.ErrInvalidEvent},
		{"notification without user", contracts.PlatformEvent{
			Type: "notification.created", Notification: &contracts.Notification{ID: "n"},
		}, domain.ErrInvalidEvent},
		{"notification without notification", contracts.PlatformEvent{Type: "notification.created", UserID: "u"}, domain.ErrInvalidEvent},
		{"published without channel", contracts.PlatformEvent{Type: "channel.video_published", VideoID: "1"}, domain.ErrInvalidEvent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := domain.RelayPlatformEvent(tt.in)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestReadReceipt(t *testing.T) {
	got, err := domain.ReadReceipt("evt-1", "789", "sock-1", "n1")
	if err != nil {
		t.Fatal(err)
	}
	got.IdempotencyKey = ""
	want := domain.Delivery{
		Target: user("789"), Except: &contracts.Except{SocketID: "sock-1"},
		Event: "notifications:read", Data: contracts.NotificationReadPayload{NotificationID: "n1"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
	for _, args := range [][4]string{
		{"", "789", "sock-1", "n1"}, {"e", "", "sock-1", "n1"}, {"e", "789", "", "n1"}, {"e", "789", "sock-1", ""},
	} {
		if _, err := domain.ReadReceipt(args[0], args[1], args[2], args[3]); !errors.Is(err, domain.ErrInvalidEvent) {
			t.Errorf("ReadReceipt%q: err = %v, want ErrInvalidEvent", args, err)
		}
	}
}

func TestNewVideoTitleFitsTheContract(t *testing.T) {
	tests := []struct {
		name, channel, want string
	}{
		{"short", "Channel", "New video from Channel"},
		{"exactly at the limit", strings.Repeat("a", 185), "New video from " + strings.Repeat("a", 185)},
		{"one over the limit", strings.Repeat("a", 186), "New video from " + strings.Repeat("a", 184) + "…"},
		{"multibyte names count characters", strings.Repeat("é", 256), "New video from " + strings.Repeat("é", 184) + "…"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := domain.RelayPlatformEvent(contracts.PlatformEvent{
				Type: "channel.video_published", ChannelID: "c", ChannelName: tt.channel, VideoID: "v", Title: "t",
			})
			if err != nil {
				t.Fatal(err)
			}
			title := d.Data.(contracts.Notification).Title
			if title != tt.want {
				t.Errorf("title = %q, want %q", title, tt.want)
			}
			if n := utf8.RuneCountInString(title); n > 200 {
				t.Errorf("title has %d characters, the contract allows 200", n)
			}
		})
	}
}

var idPattern = regexp.MustCompile(`^[A-Za-z0-9_.:@-]{1,128}$`)

func TestIdempotencyKeys(t *testing.T) {
	relayKey := func(ev contracts.PlatformEvent) string {
		t.Helper()
		d, err := domain.RelayPlatformEvent(ev)
		if err != nil {
			t.Fatal(err)
		}
		return d.IdempotencyKey
	}
	view := contracts.PlatformEvent{Type: "video.view", VideoID: "123", Timestamp: ts}
	published := contracts.PlatformEvent{
		Type: "channel.video_published", ChannelID: "456", ChannelName: "C", VideoID: "123", Title: "t", Timestamp: ts,
	}
	notification := contracts.PlatformEvent{Type: "notification.created", UserID: "789",
		Notification: &contracts.Notification{ID: "n1", Type: "x", Title: "t", Timestamp: ts}}

	if k := relayKey(view); k != "" {
		t.Errorf("an id-less view has key %q; two views of one video in one millisecond are two views", k)
	}
	if relayKey(withID(view, "e1")) != relayKey(withID(view, "e1")) {
		t.Error("the same event id must give the same key")
	}
	if relayKey(withID(view, "e1")) == relayKey(withID(view, "e2")) {
		t.Error("different event ids must give different keys")
	}
	if relayKey(published) == "" || relayKey(published) != relayKey(published) {
		t.Error("an id-less channel.video_published must still have a stable key")
	}
	other := published
	other.VideoID = "124"
	if relayKey(published) == relayKey(other) {
		t.Error("two uploads of one channel must have different keys")
	}
	if relayKey(notification) == "" {
		t.Error("an id-less notification.created must be keyed by its notification id")
	}
	otherUser := notification
	otherUser.UserID = "790"
	if relayKey(notification) == relayKey(otherUser) {
		t.Error("one notification id sent to two users must make two deliveries")
	}
	receipt, _ := domain.ReadReceipt("e1", "789", "s", "n1")
	if receipt.IdempotencyKey == relayKey(withID(view, "e1")) {
		t.Error("a domain event and a platform event with the same id must not share a key")
	}

	for _, k := range []string{relayKey(published), strings.Repeat("x", 500)} {
		if id := domain.FanoutID(k); !idPattern.MatchString(id) {
			t.Errorf("FanoutID(%q) = %q is not a contract id", k, id)
		}
	}
	long := published
	long.ChannelID, long.VideoID = strings.Repeat("c", 128), strings.Repeat("v", 128)
	if id := domain.ChannelVideoNotificationID(long); !idPattern.MatchString(id) {
		t.Errorf("ChannelVideoNotificationID = %q is not a contract id", id)
	}
	swapped := published
	swapped.ChannelID, swapped.VideoID = published.VideoID, published.ChannelID
	if domain.ChannelVideoNotificationID(published) == domain.ChannelVideoNotificationID(swapped) {
		t.Error("channel and video ids must not be interchangeable in the notification id")
	}
}

func withID(ev contracts.PlatformEvent, id string) contracts.PlatformEvent {
	ev.ID = id
	return ev
}
