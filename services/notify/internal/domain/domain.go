// Package domain holds the notify worker's rules as pure functions: which
// client event a platform event becomes, who receives it, whether it may be
// dropped for a slow consumer, and the deterministic ids that make
// redelivered events harmless. No I/O, no clocks, no randomness.
package domain

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"realtime/contracts"
)

// ErrUnknownEvent is returned (wrapped) for a platform event type the
// worker does not relay.
var ErrUnknownEvent = errors.New("unknown platform event type")

// ErrInvalidEvent is returned (wrapped) for an event that lacks a field its
// mapping needs. Schema validation normally catches these first; the
// domain checks again so that it is total on its own.
var ErrInvalidEvent = errors.New("invalid event")

// NewVideoNotificationType is the notification type of channel uploads.
const NewVideoNotificationType = "new_video"

// maxTitle is the longest notification title the contract allows
// (server/notification.json, in characters).
const maxTitle = 200

// Delivery is one server→client event and its recipients: everything a
// fan-out message needs except its id.
type Delivery struct {
	Target   contracts.Target
	Except   *contracts.Except
	Event    string
	Data     any
	Volatile bool
	// IdempotencyKey identifies the delivery across redeliveries of its
	// source event; "" when nothing does (an id-less video event), in which
	// case every delivery is new. FanoutID turns it into a fan-out id.
	IdempotencyKey string
}

// RelayPlatformEvent maps a platform event to the client event it produces.
// Video events go to the video's viewers and are volatile (a newer one
// supersedes them) except comments; notifications go to one user or to a
// channel's subscribers and must be delivered.
func RelayPlatformEvent(ev contracts.PlatformEvent) (Delivery, error) {
	d, err := relay(ev)
	if err != nil {
		return Delivery{}, err
	}
	if ev.ID != "" {
		d.IdempotencyKey = key("platform", ev.ID)
	}
	return d, nil
}

func relay(ev contracts.PlatformEvent) (Delivery, error) {
	switch ev.Type {
	case contracts.PlatformVideoView:
		if err := require(ev.Type, "videoId", ev.VideoID); err != nil {
			return Delivery{}, err
		}
		return Delivery{
			Target:   videoRoom(ev.VideoID),
			Event:    contracts.ServerVideoView,
			Data:     contracts.VideoTimestampPayload{VideoID: ev.VideoID, Timestamp: ev.Timestamp},
			Volatile: true,
		}, nil

	case contracts.PlatformVideoLike, contracts.PlatformVideoDislike:
		if err := require(ev.Type, "videoId", ev.VideoID); err != nil {
			return Delivery{}, err
		}
		return Delivery{
			Target:   videoRoom(ev.VideoID),
			Event:    contracts.ServerVideoLike,
			Data:     contracts.VideoLikePayload{VideoID: ev.VideoID, Type: ev.Type, Timestamp: ev.Timestamp},
			Volatile: true,
		}, nil

	case contracts.PlatformCommentCreated:
		if err := require(ev.Type, "videoId", ev.VideoID, "commentId", ev.CommentID); err != nil {
			return Delivery{}, err
		}
		return Delivery{
			Target: videoRoom(ev.VideoID),
			Event:  contracts.ServerVideoComment,
			Data: contracts.VideoCommentPayload{
				VideoID: ev.VideoID, CommentID: ev.CommentID, Timestamp: ev.Timestamp,
			},
		}, nil

	case contracts.PlatformNotificationCreated:
		if err := require(ev.Type, "userId", ev.UserID); err != nil {
			return Delivery{}, err
		}
		if ev.Notification == nil || ev.Notification.ID == "" {
			return Delivery{}, fmt.Errorf("%w: %s needs notification.id", ErrInvalidEvent, ev.Type)
		}
		return Delivery{
			Target: contracts.Target{Kind: contracts.TargetUser, UserID: ev.UserID},
			Event:  contracts.ServerNotification,
			Data:   *ev.Notification,
			// The platform's notification id is the notification's
			// identity: a re-emitted one is the same notification.
			IdempotencyKey: key(ev.Type, ev.UserID, ev.Notification.ID),
		}, nil

	case contracts.PlatformChannelVideoPublished:
		if err := require(ev.Type, "channelId", ev.ChannelID, "videoId", ev.VideoID); err != nil {
			return Delivery{}, err
		}
		n := contracts.Notification{
			ID:        ChannelVideoNotificationID(ev),
			Type:      NewVideoNotificationType,
			Title:     newVideoTitle(ev.ChannelName),
			Message:   ev.Title,
			Timestamp: ev.Timestamp,
		}
		return Delivery{
			Target:         contracts.Target{Kind: contracts.TargetRoom, Room: contracts.ChannelRoom(ev.ChannelID)},
			Event:          contracts.ServerNotification,
			Data:           n,
			IdempotencyKey: key(ev.Type, ev.ChannelID, n.ID),
		}, nil
	}
	return Delivery{}, fmt.Errorf("%w %q", ErrUnknownEvent, ev.Type)
}

// ReadReceipt tells a user's other devices that one of them read a
// notification: every socket of the user except the one that read it.
// eventID is the id of the notification.read domain event.
func ReadReceipt(eventID, userID, socketID, notificationID string) (Delivery, error) {
	if err := require(contracts.DomainNotificationRead,
		"id", eventID, "userId", userID, "socketId", socketID, "notificationId", notificationID); err != nil {
		return Delivery{}, err
	}
	return Delivery{
		Target:         contracts.Target{Kind: contracts.TargetUser, UserID: userID},
		Except:         &contracts.Except{SocketID: socketID},
		Event:          contracts.ServerNotificationsRead,
		Data:           contracts.NotificationReadPayload{NotificationID: notificationID},
		IdempotencyKey: key("domain", eventID),
	}, nil
}

// ChannelVideoNotificationID is the id of the notification that a
// channel.video_published event creates: the event's own id when it has
// one, else derived from channel and video, so that a redelivered event
// names the same notification (and a client that already has it, or has
// read it, recognises it).
func ChannelVideoNotificationID(ev contracts.PlatformEvent) string {
	if ev.ID != "" {
		return ev.ID
	}
	return "nv-" + digest("channel.video_published", ev.ChannelID, ev.VideoID)
}

// FanoutID turns an idempotency key into a fan-out message id. Edges drop
// fan-out messages whose id they have seen, so a redelivered source event
// produces a fan-out that no client receives twice. The id is a digest: it
// stays within the contract's 128 characters and charset whatever the key.
func FanoutID(idempotencyKey string) string {
	return "notify-" + digest(idempotencyKey)
}

// newVideoTitle is "New video from <channel>", shortened to the contract's
// limit by cutting the channel name (channel names may be longer than a
// title may be).
func newVideoTitle(channel string) string {
	const prefix = "New video from "
	title := prefix + channel
	if utf8.RuneCountInString(title) <= maxTitle {
		return title
	}
	keep := maxTitle - utf8.RuneCountInString(prefix) - 1 // room for the ellipsis
	runes := []rune(channel)
	return prefix + strings.TrimRight(string(runes[:keep]), " ") + "…"
}

func videoRoom(videoID string) contracts.Target {
	return contracts.Target{Kind: contracts.TargetRoom, Room: contracts.VideoRoom(videoID)}
}

// require checks that the named fields (name, value pairs) are not empty.
func require(eventType string, pairs ...string) error {
	for i := 0; i+1 < len(pairs); i += 2 {
		if pairs[i+1] == "" {
			return fmt.Errorf("%w: %s needs %s", ErrInvalidEvent, eventType, pairs[i])
		}
	}
	return nil
}

// key joins parts with NUL, which no id may contain, so distinct part
// lists never make the same key.
func key(parts ...string) string { return strings.Join(parts, "\x00") }

// digest is 128 bits of SHA-256 of the parts, in hex.
func digest(parts ...string) string {
	sum := sha256.Sum256([]byte(key(parts...)))
	return hex.EncodeToString(sum[:16])
}
