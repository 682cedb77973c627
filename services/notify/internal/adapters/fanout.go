package adapters

import (
	"context"

	"github.com/ThreeDotsLabs/watermill/message"

	"realtime/contracts"
	"realtime/pkg/bus"
	"realtime/services/notify/internal/app"
)

var _ app.Fanout = FanoutPublisher{}

// FanoutPublisher publishes fan-out messages as JSON on the bus's fan-out
// role (Redis Streams in distributed mode), on the stream
// contracts.FanoutTopic picks: realtime.fanout for rooms, users and all,
// which is all notify sends today.
type FanoutPublisher struct {
	pub message.Publisher
}

// NewFanoutPublisher returns a publisher on pub, normally
// bus.Fanout.Publisher(). The bus owns pub and closes it.
func NewFanoutPublisher(pub message.Publisher) FanoutPublisher {
	return FanoutPublisher{pub: pub}
}

// Publish sends msg. The message id is msg.ID, so the transport and the
// edges see the same id; the key is informational (a stream is not
// partitioned).
func (p FanoutPublisher) Publish(ctx context.Context, msg contracts.FanoutMessage) error {
	return bus.PublishJSON(ctx, p.pub, contracts.FanoutTopic(msg.Target), msg.ID, targetKey(msg.Target), msg)
}

func targetKey(t contracts.Target) string {
	switch t.Kind {
	case contracts.TargetRoom:
		return t.Room
	case contracts.TargetUser:
		return contracts.UserRoom(t.UserID)
	default:
		return t.SocketID
	}
}
