package adapters

import (
	"context"

	"github.com/ThreeDotsLabs/watermill/message"

	"realtime/contracts"
	"realtime/pkg/bus"
)

// FanoutPublisher publishes fan-out messages on the bus's fan-out role:
// on the realtime.fanout stream, which every edge instance reads, or, for
// a socket whose edge the target names, on that edge's own stream
// (contracts.FanoutTopic).
type FanoutPublisher struct {
	pub message.Publisher
}

// NewFanoutPublisher returns a publisher writing to pub.
func NewFanoutPublisher(pub message.Publisher) *FanoutPublisher {
	return &FanoutPublisher{pub: pub}
}

// Publish gives msg a new id and publishes it, keyed by its target.
func (p *FanoutPublisher) Publish(ctx context.Context, msg contracts.FanoutMessage) error {
	msg.ID = bus.NewID()
	return bus.PublishJSON(ctx, p.pub, contracts.FanoutTopic(msg.Target), msg.ID, targetKey(msg.Target), msg)
}

func targetKey(t contracts.Target) string {
	switch t.Kind {
	case contracts.TargetRoom:
		return t.Room
	case contracts.TargetUser:
		return contracts.UserRoom(t.UserID)
	case contracts.TargetSocket:
		return t.SocketID
	}
	return ""
}
