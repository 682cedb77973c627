// Command chat runs the chat worker on its own. With BUS=distributed it
// consumes realtime.chat from Kafka, publishes to the Redis fan-out stream
// and keeps its state (rate limits, handled event ids) in the same Redis,
// so any number of instances can run side by side. With BUS=memory (the
// default) nothing else can reach it; the edge runs the same service
// in-process in embedded mode.
package main

import (
	"log/slog"

	"github.com/redis/go-redis/v9"

	"realtime/pkg/bus"
	"realtime/pkg/worker"
	"realtime/services/chat/service"
)

func main() {
	worker.Main("chat", func(environ map[string]string, b *bus.Bus, rdb redis.UniversalClient, log *slog.Logger) (worker.Runner, error) {
		cfg, err := service.LoadConfig(environ)
		if err != nil {
			return nil, err
		}
		var opts []service.Option
		if rdb != nil {
			opts = append(opts, service.WithRedis(rdb))
		}
		return service.New(cfg, b, log, opts...)
	})
}
