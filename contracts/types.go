package contracts

import "encoding/json"

// DomainEvent is every event on the realtime.* Kafka topics: the envelope
// and the union of the per-type fields (unused ones are omitted). Its
// encoding is tested against schemas/domain.
type DomainEvent struct {
	ID         string `json:"id"`
	Type       string `json:"type"`
	OccurredAt int64  `json:"occurredAt"`
	EdgeID     string `json:"edgeId"`
	SocketID   string `json:"socketId,omitempty"`
	UserID     string `json:"userId,omitempty"`
	Anonymous  *bool  `json:"anonymous,omitempty"`

	VideoID        string   `json:"videoId,omitempty"`
	Position       *float64 `json:"position,omitempty"`
	Message        string   `json:"message,omitempty"`
	IsTyping       *bool    `json:"isTyping,omitempty"`
	ChannelID      string   `json:"channelId,omitempty"`
	NotificationID string   `json:"notificationId,omitempty"`
	TTLMs          int64    `json:"ttlMs,omitempty"`
	Sockets        *int     `json:"sockets,omitempty"`
}

// Key returns the Kafka partition key of the event: the field that orders
// it (video for video and chat events, user for user events, edge for
// session events).
func (e *DomainEvent) Key() string {
	switch DomainEventTopic(e.Type) {
	case TopicVideo, TopicChat:
		return e.VideoID
	case TopicUser:
		return e.UserID
	default:
		return e.EdgeID
	}
}

// PlatformEvent is an event from the rest of the video platform, on the
// platform.events topic.
type PlatformEvent struct {
	ID           string        `json:"id,omitempty"`
	Type         string        `json:"type"`
	VideoID      string        `json:"videoId,omitempty"`
	UserID       string        `json:"userId,omitempty"`
	CommentID    string        `json:"commentId,omitempty"`
	ChannelID    string        `json:"channelId,omitempty"`
	ChannelName  string        `json:"channelName,omitempty"`
	Title        string        `json:"title,omitempty"`
	Timestamp    int64         `json:"timestamp,omitempty"`
	Notification *Notification `json:"notification,omitempty"`
}

// Key returns the partition key of a platform event.
func (e *PlatformEvent) Key() string {
	switch {
	case e.VideoID != "":
		return e.VideoID
	case e.UserID != "":
		return e.UserID
	default:
		return e.ChannelID
	}
}

// Notification is the payload of the server→client `notification` event.
type Notification struct {
	ID        string `json:"id"`
	Type      string `json:"type"`
	Title     string `json:"title"`
	Message   string `json:"message"`
	Timestamp int64  `json:"timestamp"`
}

// FanoutMessage is one server→client event for the edges to deliver.
type FanoutMessage struct {
	ID       string          `json:"id"`
	Target   Target          `json:"target"`
	Except   *Except         `json:"except,omitempty"`
	Event    string          `json:"event"`
	Data     json.RawMessage `json:"data"`
	Volatile bool            `json:"volatile"`
}

// Target selects the recipients of a fan-out message.
type Target struct {
	Kind     string `json:"kind"` // room | user | socket | all
	Room     string `json:"room,omitempty"`
	UserID   string `json:"userId,omitempty"`
	SocketID string `json:"socketId,omitempty"`
	// EdgeID is the edge that holds SocketID (kind socket only): the
	// message then goes to that edge's stream alone (FanoutTopic).
	EdgeID string `json:"edgeId,omitempty"`
}

// Except leaves recipients out of a fan-out message.
type Except struct {
	SocketID string `json:"socketId,omitempty"`
	UserID   string `json:"userId,omitempty"`
}

// Payloads of server→client events.
type (
	CountPayload struct {
		VideoID string `json:"videoId"`
		Count   int    `json:"count"`
	}
	VideoTimestampPayload struct {
		VideoID   string `json:"videoId"`
		Timestamp int64  `json:"timestamp"`
	}
	VideoLikePayload struct {
		VideoID   string `json:"videoId"`
		Type      string `json:"type"`
		Timestamp int64  `json:"timestamp"`
	}
	VideoCommentPayload struct {
		VideoID   string `json:"videoId"`
		CommentID string `json:"commentId"`
		Timestamp int64  `json:"timestamp"`
	}
	VideoSyncPayload struct {
		VideoID   string  `json:"videoId"`
		Timestamp float64 `json:"timestamp"`
	}
	ChatMessagePayload struct {
		ID        string `json:"id"`
		VideoID   string `json:"videoId"`
		UserID    string `json:"userId"`
		Message   string `json:"message"`
		Timestamp int64  `json:"timestamp"`
	}
	ChatTypingPayload struct {
		UserID   string `json:"userId"`
		IsTyping bool   `json:"isTyping"`
		VideoID  string `json:"videoId,omitempty"`
	}
	NotificationReadPayload struct {
		NotificationID string `json:"notificationId"`
	}
	ErrorPayload struct {
		Message string `json:"message"`
		Event   string `json:"event,omitempty"`
	}
)

// Payloads of client→server events (after schema validation).
type (
	VideoRef struct {
		VideoID string `json:"videoId"`
	}
	VideoProgress struct {
		VideoID   string  `json:"videoId"`
		Timestamp float64 `json:"timestamp"`
	}
	ChatMessageRequest struct {
		VideoID string `json:"videoId"`
		Message string `json:"message"`
	}
	ChatTypingRequest struct {
		VideoID  string `json:"videoId"`
		IsTyping bool   `json:"isTyping"`
	}
	ChannelRef struct {
		ChannelID string `json:"channelId"`
	}
	NotificationRef struct {
		NotificationID string `json:"notificationId"`
	}
)
