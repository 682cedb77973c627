// Command notify runs the notify worker alone. With BUS=distributed it
// consumes realtime.user and platform.events from Kafka, publishes to the
// Redis fan-out stream and keeps its state (subscriptions, read receipts,
// handled event ids) in the same Redis, so any number of instances can run
// side by side. With BUS=memory (the default) nothing else can reach it;
// the edge runs the same worker in-process in embedded mode.
package main

import (
	"log/slog"

	"github.com/redis/go-redis/v9"

	"realtime/pkg/bus"
	"realtime/pkg/worker"
	"realtime/services/notify/service"
)

func main() {
	worker.Main("notify", func(environ map[string]string, b *bus.Bus, rdb redis.UniversalClient, log *slog.Logger) (worker.Runner, error) {
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
