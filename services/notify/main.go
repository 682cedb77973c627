// Command notify runs the notify worker alone. With BUS=distributed it
// consumes realtime.user and platform.events from Kafka, publishes to the
// Redis fan-out stream and keeps its state (subscriptions, read receipts,
// handled event ids) in the same Redis, so any number of instances can run
// side by side. With BUS=memory (the default) nothing else can reach it;
// the edge runs the same worker in-process in embedded mode.
package main

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/caarlos0/env/v11"
	"github.com/redis/go-redis/v9"

	"realtime/pkg/bus"
	"realtime/services/notify/service"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx); err != nil {
		slog.New(slog.NewJSONHandler(os.Stderr, nil)).Error("notify failed", "service", "notify", "error", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	environ := env.ToMap(os.Environ())
	cfg, err := service.LoadConfig(environ)
	if err != nil {
		return err
	}
	busCfg, err := bus.LoadConfig(environ)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: cfg.LogLevel})).With("service", "notify")
	b, err := bus.Open(ctx, busCfg, log.With("component", "bus"))
	if err != nil {
		return err
	}
	defer b.Close()
	var opts []service.Option
	if busCfg.Transport == bus.TransportDistributed {
		rdb := redis.NewClient(&redis.Options{Addr: busCfg.RedisAddr})
		defer rdb.Close()
		opts = append(opts, service.WithRedis(rdb))
	}
	svc, err := service.New(cfg, b, log, opts...)
	if err != nil {
		return err
	}
	return svc.Run(ctx)
}
