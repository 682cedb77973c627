// Package bustest holds transports for tests of the workers.
package bustest

import (
	"github.com/ThreeDotsLabs/watermill/message"

	"realtime/pkg/bus"
)

// PublishedTo is the metadata key in which OneStream records the topic a
// message was published on.
const PublishedTo = "published_to"

// OneStream is transport, except that whatever topic a worker publishes on
// (the shared fan-out stream or an edge's own) lands on topic, which a
// test reads: what the worker sent keeps one order, and each message
// carries, in metadata PublishedTo, the topic it was meant for.
func OneStream(transport bus.Transport, topic string) bus.Transport {
	return oneStream{Transport: transport, topic: topic}
}

type oneStream struct {
	bus.Transport
	topic string
}

func (o oneStream) Publisher() message.Publisher {
	return oneStreamPublisher{Publisher: o.Transport.Publisher(), topic: o.topic}
}

type oneStreamPublisher struct {
	message.Publisher
	topic string
}

func (p oneStreamPublisher) Publish(topic string, msgs ...*message.Message) error {
	for _, m := range msgs {
		m.Metadata.Set(PublishedTo, topic)
	}
	return p.Publisher.Publish(p.topic, msgs...)
}
