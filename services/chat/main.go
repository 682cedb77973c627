// Command chat runs the chat worker on its own. With BUS=distributed it
// consumes realtime.chat from Kafka, publishes to the Redis fan-out stream
// and keeps its state (rate limits, handled event ids) in the same Redis,
// so any number of instances can run side by side. With BUS=memory (the
// default) nothing else can reach it; the edge runs the same service
// in-process in embedded mode.
package main

import (
	"realtime/pkg/worker"
	"realtime/services/chat/service"
)

func main() {
	worker.Service("chat", service.LoadConfig, service.WithRedis, service.New)
}
