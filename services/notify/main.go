// Command notify runs the notify worker alone. With BUS=distributed it
// consumes realtime.user and platform.events from Kafka, publishes to the
// Redis fan-out stream and keeps its state (subscriptions, read receipts,
// handled event ids) in the same Redis, so any number of instances can run
// side by side. With BUS=memory (the default) nothing else can reach it;
// the edge runs the same worker in-process in embedded mode.
package main

import (
	"realtime/pkg/worker"
	"realtime/services/notify/service"
)

func main() {
	worker.Service("notify", service.LoadConfig, service.WithRedis, service.New)
}
