// Command presence runs the presence worker alone: viewer and chatter
// counts, edge leases, multi-device playback sync. BUS=distributed puts it
// on Kafka and Redis Streams, with its state in Redis; BUS=memory (the
// default) keeps everything in this process. (The edge also runs it
// in-process in embedded mode.)
package main

import (
	"log/slog"

	"github.com/redis/go-redis/v9"

	"realtime/pkg/bus"
	"realtime/pkg/worker"
	"realtime/services/presence/service"
)

func main() {
	worker.Main("presence", func(environ map[string]string, b *bus.Bus, rdb redis.UniversalClient, log *slog.Logger) (worker.Runner, error) {
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
