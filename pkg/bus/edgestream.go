package bus

import (
	"fmt"
	"strings"
	"time"

	"github.com/ThreeDotsLabs/watermill-redisstream/pkg/redisstream"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/redis/go-redis/v9"
)

// EdgeStreamPrefix starts the name of every edge's own fan-out stream
// (contracts.EdgeFanoutTopic, which the edge service's tests check against
// this): messages for one socket, read by the edge that holds it only.
const EdgeStreamPrefix = "realtime.fanout.edge."

// IsEdgeStream reports whether topic is an edge's own fan-out stream.
func IsEdgeStream(topic string) bool {
	return strings.HasPrefix(topic, EdgeStreamPrefix) && len(topic) > len(EdgeStreamPrefix)
}

// streamPublisher publishes on the fan-out streams. The shared stream
// goes through watermill-redisstream's publisher unchanged. An edge's own
// stream is named after the edge, and an edge id lives as long as one
// process (a restart is a new id), so without care every edge that ever
// ran would leave a stream behind. Each publish to one therefore sets the
// stream's expiry to ttl in the same MULTI/EXEC as the XADD: a stream that
// exists always has an expiry, even one that a late publish recreated
// after its edge died. Deleting the stream when presence expires the
// edge's lease would not be enough on its own: a fan-out published after
// the deletion (a join answer still in flight) would recreate it with no
// expiry at all.
type streamPublisher struct {
	shared *redisstream.Publisher // owns client and closes it
	client *redis.Client
	maxLen int64
	ttl    time.Duration
	codec  redisstream.DefaultMarshallerUnmarshaller
}

func (p *streamPublisher) Publish(topic string, msgs ...*message.Message) error {
	if !IsEdgeStream(topic) {
		return p.shared.Publish(topic, msgs...)
	}
	if len(msgs) == 0 {
		return nil
	}
	values := make([]map[string]any, len(msgs))
	for i, msg := range msgs {
		v, err := p.codec.Marshal(topic, msg)
		if err != nil {
			return fmt.Errorf("cannot marshal message %s: %w", msg.UUID, err)
		}
		values[i] = v
	}
	ctx := msgs[0].Context()
	_, err := p.client.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
		for _, v := range values {
			pipe.XAdd(ctx, &redis.XAddArgs{Stream: topic, Values: v, MaxLen: p.maxLen, Approx: true})
		}
		pipe.PExpire(ctx, topic, p.ttl)
		return nil
	})
	if err != nil {
		return fmt.Errorf("publish to %s: %w", topic, err)
	}
	return nil
}

// Close closes the shared publisher, and with it the client.
func (p *streamPublisher) Close() error { return p.shared.Close() }
