// Package fanout turns the chat worker's outputs into fan-out messages
// (contracts.FanoutMessage) on the realtime.fanout topic, which every edge
// reads and delivers to its local sockets, or, for one socket on a known
// edge, on that edge's own stream (contracts.FanoutTopic).
package fanout

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/ThreeDotsLabs/watermill/message"

	"realtime/contracts"
	"realtime/pkg/bus"
	"realtime/services/chat/internal/domain"
)

// Publisher publishes fan-out messages. Who receives what is decided here,
// in one place: messages go to the whole chat room, typing to the room
// except the typing socket, refusals to the refused socket only.
type Publisher struct {
	pub message.Publisher
}

// NewPublisher returns a Publisher on pub (the bus's fan-out role).
func NewPublisher(pub message.Publisher) *Publisher { return &Publisher{pub: pub} }

// ChatMessage sends an accepted message to everyone in the video's chat. It
// must be delivered (not volatile).
func (p *Publisher) ChatMessage(ctx context.Context, id string, m domain.ChatMessage) error {
	return p.publish(ctx, contracts.FanoutMessage{
		ID:     id,
		Target: contracts.Target{Kind: contracts.TargetRoom, Room: contracts.ChatRoom(m.VideoID)},
		Event:  contracts.ServerChatMessage,
	}, contracts.ChatMessagePayload{
		ID:        m.ID,
		VideoID:   m.VideoID,
		UserID:    m.UserID,
		Message:   m.Text,
		Timestamp: m.At.UnixMilli(),
	})
}

// Typing tells everyone in the video's chat but the typing socket. It is
// volatile: a lost typing indicator is superseded by the next one.
func (p *Publisher) Typing(ctx context.Context, id string, t domain.Typing) error {
	return p.publish(ctx, contracts.FanoutMessage{
		ID:       id,
		Target:   contracts.Target{Kind: contracts.TargetRoom, Room: contracts.ChatRoom(t.VideoID)},
		Except:   &contracts.Except{SocketID: t.SocketID},
		Event:    contracts.ServerChatTyping,
		Volatile: true,
	}, contracts.ChatTypingPayload{UserID: t.UserID, IsTyping: t.IsTyping, VideoID: t.VideoID})
}

// Refusal tells socket to that its request (client event `event`) was
// refused, as an `error` event that must be delivered. Naming the edge
// sends it to that edge alone.
func (p *Publisher) Refusal(ctx context.Context, id string, to domain.Socket, event string, reason domain.Refusal) error {
	return p.publish(ctx, contracts.FanoutMessage{
		ID:     id,
		Target: contracts.Target{Kind: contracts.TargetSocket, SocketID: to.ID, EdgeID: to.EdgeID},
		Event:  contracts.ServerError,
	}, contracts.ErrorPayload{Message: reason.Error(), Event: event})
}

func (p *Publisher) publish(ctx context.Context, f contracts.FanoutMessage, data any) error {
	raw, err := json.Marshal(data)
	if err != nil {
		return fmt.Errorf("fanout: encode %s: %w", f.Event, err)
	}
	f.Data = raw
	// The key only matters to a partitioned fan-out transport; the room (or
	// socket) keeps one chat's messages together there.
	key := f.Target.Room
	if key == "" {
		key = f.Target.SocketID
	}
	if err := bus.PublishJSON(ctx, p.pub, contracts.FanoutTopic(f.Target), f.ID, key, f); err != nil {
		return fmt.Errorf("fanout: publish %s: %w", f.Event, err)
	}
	return nil
}
