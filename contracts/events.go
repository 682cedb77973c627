package contracts

// Client → server Socket.IO event names.
const (
	ClientVideoJoin                = "video:join"
	ClientVideoLeave               = "video:leave"
	ClientVideoProgress            = "video:progress"
	ClientChatJoin                 = "chat:join"
	ClientChatLeave                = "chat:leave"
	ClientChatMessage              = "chat:message"
	ClientChatTyping               = "chat:typing"
	ClientNotificationsSubscribe   = "notifications:subscribe"
	ClientNotificationsUnsubscribe = "notifications:unsubscribe"
	ClientNotificationsRead        = "notifications:read"
)

// Server → client Socket.IO event names. chat:message, chat:typing and
// notifications:read exist in both directions with different payloads.
const (
	ServerVideoViewers      = "video:viewers"
	ServerVideoView         = "video:view"
	ServerVideoLike         = "video:like"
	ServerVideoComment      = "video:comment"
	ServerVideoSync         = "video:sync"
	ServerChatMessage       = "chat:message"
	ServerChatUserCount     = "chat:user-count"
	ServerChatTyping        = "chat:typing"
	ServerNotification      = "notification"
	ServerNotificationsRead = "notifications:read"
	ServerError             = "error"
)

// Domain event types (field "type" of events on the realtime.* Kafka topics).
const (
	DomainSessionOpened             = "session.opened"
	DomainSessionClosed             = "session.closed"
	DomainEdgeHeartbeat             = "edge.heartbeat"
	DomainVideoJoined               = "video.joined"
	DomainVideoLeft                 = "video.left"
	DomainVideoProgress             = "video.progress"
	DomainChatJoined                = "chat.joined"
	DomainChatLeft                  = "chat.left"
	DomainChatMessageRequested      = "chat.message_requested"
	DomainChatTyping                = "chat.typing"
	DomainNotificationsSubscribed   = "notifications.subscribed"
	DomainNotificationsUnsubscribed = "notifications.unsubscribed"
	DomainNotificationRead          = "notification.read"
)

// Platform event types (field "type" of events on the platform.events topic).
const (
	PlatformVideoView             = "video.view"
	PlatformVideoLike             = "video.like"
	PlatformVideoDislike          = "video.dislike"
	PlatformCommentCreated        = "comment.created"
	PlatformNotificationCreated   = "notification.created"
	PlatformChannelVideoPublished = "channel.video_published"
)

// Topics. The Kafka partition key of each is documented in asyncapi.yaml
// (x-partition-key) and README.md.
const (
	TopicSessions       = "realtime.sessions" // Kafka, key edgeId
	TopicVideo          = "realtime.video"    // Kafka, key videoId
	TopicChat           = "realtime.chat"     // Kafka, key videoId
	TopicUser           = "realtime.user"     // Kafka, key userId
	TopicPlatformEvents = "platform.events"   // Kafka, key videoId or userId
	TopicFanout         = "realtime.fanout"   // Redis Stream, read by every edge
	// TopicEdgeFanoutPrefix starts the name of each edge's own Redis
	// Stream (EdgeFanoutTopic), read by that edge only.
	TopicEdgeFanoutPrefix = TopicFanout + ".edge."
)

// EdgeFanoutTopic returns the Redis Stream of edge edgeID: fan-out
// messages for one of its sockets, which no other edge could deliver. An
// edge reads it besides TopicFanout, so those messages are decoded by one
// edge instead of all of them.
func EdgeFanoutTopic(edgeID string) string { return TopicEdgeFanoutPrefix + edgeID }

// FanoutTopic returns the stream a fan-out message to t goes to: the
// stream of the socket's edge for a socket target that names it, the
// shared TopicFanout for everything else (rooms, users and all span edges;
// a socket target without an edge comes from a producer that predates
// Target.EdgeID, and every edge still reads the shared stream).
func FanoutTopic(t Target) string {
	if t.Kind == TargetSocket && t.EdgeID != "" {
		return EdgeFanoutTopic(t.EdgeID)
	}
	return TopicFanout
}

// Fan-out target kinds (field target.kind of a fan-out message).
const (
	TargetRoom   = "room"
	TargetUser   = "user"
	TargetSocket = "socket"
	TargetAll    = "all"
)

// Message names for Registry.Validate that are not per-event.
const (
	FanoutMessageName        = "fanout/message"
	DomainEventMessageName   = "domain/domain-event"     // any domain event, by its type
	PlatformEventMessageName = "platform/platform-event" // any platform event, by its type
)

// ClientEvents returns every client → server event name, in contract order.
func ClientEvents() []string {
	return []string{
		ClientVideoJoin, ClientVideoLeave, ClientVideoProgress,
		ClientChatJoin, ClientChatLeave, ClientChatMessage, ClientChatTyping,
		ClientNotificationsSubscribe, ClientNotificationsUnsubscribe, ClientNotificationsRead,
	}
}

// ServerEvents returns every server → client event name, in contract order.
func ServerEvents() []string {
	return []string{
		ServerVideoViewers, ServerVideoView, ServerVideoLike, ServerVideoComment, ServerVideoSync,
		ServerChatMessage, ServerChatUserCount, ServerChatTyping,
		ServerNotification, ServerNotificationsRead, ServerError,
	}
}

// DomainEventTypes returns every domain event type, in contract order.
func DomainEventTypes() []string {
	return []string{
		DomainSessionOpened, DomainSessionClosed, DomainEdgeHeartbeat,
		DomainVideoJoined, DomainVideoLeft, DomainVideoProgress,
		DomainChatJoined, DomainChatLeft, DomainChatMessageRequested, DomainChatTyping,
		DomainNotificationsSubscribed, DomainNotificationsUnsubscribed, DomainNotificationRead,
	}
}

// PlatformEventTypes returns every platform event type, in contract order.
func PlatformEventTypes() []string {
	return []string{
		PlatformVideoView, PlatformVideoLike, PlatformVideoDislike,
		PlatformCommentCreated, PlatformNotificationCreated, PlatformChannelVideoPublished,
	}
}

// DomainEventTopic returns the Kafka topic that carries domain events of
// type t, or "" if t is not a domain event type.
func DomainEventTopic(t string) string {
	switch t {
	case DomainSessionOpened, DomainSessionClosed, DomainEdgeHeartbeat:
		return TopicSessions
	case DomainVideoJoined, DomainVideoLeft:
		return TopicVideo
	case DomainChatJoined, DomainChatLeft, DomainChatMessageRequested, DomainChatTyping:
		return TopicChat
	case DomainVideoProgress, DomainNotificationsSubscribed, DomainNotificationsUnsubscribed, DomainNotificationRead:
		return TopicUser
	}
	return ""
}

// Room names. Every authenticated socket is in UserRoom(its user id).
func VideoRoom(videoID string) string     { return "video:" + videoID }
func ChatRoom(videoID string) string      { return "chat:" + videoID }
func ChannelRoom(channelID string) string { return "channel:" + channelID }
func UserRoom(userID string) string       { return "user:" + userID }

// Message names for Registry.Validate.
func ClientMessage(event string) string     { return "client/" + event }
func ServerMessage(event string) string     { return "server/" + event }
func DomainMessage(eventType string) string { return "domain/" + eventType }
func PlatformMessage(eventType string) string {
	return "platform/" + eventType
}
