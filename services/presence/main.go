// Command presence runs the presence worker alone: viewer and chatter
// counts, edge leases, multi-device playback sync. BUS=distributed puts it
// on Kafka and Redis Streams, with its state in Redis; BUS=memory (the
// default) keeps everything in this process. (The edge also runs it
// in-process in embedded mode.)
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/caarlos0/env/v11"
	"github.com/redis/go-redis/v9"

	"realtime/pkg/bus"
	"realtime/services/presence/service"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil)).With("service", "presence")
	if err := run(ctx, log); err != nil {
		log.Error("presence stopped", "error", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, log *slog.Logger) error {
	environ := env.ToMap(os.Environ())
	cfg, err := service.LoadConfig(environ)
	if err != nil {
		return err
	}
	busCfg, err := bus.LoadConfig(environ)
	if err != nil {
		return err
	}
	b, err := bus.Open(ctx, busCfg, log.With("component", "bus"))
	if err != nil {
		return err
	}
	defer b.Close()

	var opts []service.Option
	if busCfg.Transport == bus.TransportDistributed {
		rdb := redis.NewClient(&redis.Options{Addr: busCfg.RedisAddr})
		defer rdb.Close()
		if err := rdb.Ping(ctx).Err(); err != nil {
			return fmt.Errorf("redis %s: %w", busCfg.RedisAddr, err)
		}
		opts = append(opts, service.WithRedis(rdb))
	}
	s, err := service.New(cfg, b, log, opts...)
	if err != nil {
		return err
	}
	return s.Run(ctx)
}
