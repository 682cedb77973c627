// Command presence runs the presence worker alone: viewer and chatter
// counts, edge leases, multi-device playback sync. BUS=distributed puts it
// on Kafka and Redis Streams, with its state in Redis; BUS=memory (the
// default) keeps everything in this process. (The edge also runs it
// in-process in embedded mode.)
package main

import (
	"realtime/pkg/worker"
	"realtime/services/presence/service"
)

func main() {
	worker.Service("presence", service.LoadConfig, service.WithRedis, service.New)
}
