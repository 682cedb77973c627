// Package worker is the process around a worker service (presence, chat,
// notify) when it runs alone: signals, JSON logs, the bus chosen by BUS,
// and in distributed mode the Redis that holds the service's state.
package worker

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
)

// Runner is a service that runs until its context ends.
type Runner interface {
	Run(ctx context.Context) error
}

// Build makes the service from the environment, its bus and, in
// distributed mode, a Redis client for its state (nil in memory mode).
type Build func(environ map[string]string, b *bus.Bus, rdb redis.UniversalClient, log *slog.Logger) (Runner, error)

// Service runs a worker whose package follows the house shape:
// LoadConfig(environ), an option that puts its state in Redis, and
// New(cfg, bus, logger, opts...). main.go is then one call.
func Service[C any, O any, S Runner](
	name string,
	loadConfig func(map[string]string) (C, error),
	withRedis func(redis.UniversalClient) O,
	newService func(C, *bus.Bus, *slog.Logger, ...O) (S, error),
) {
	Main(name, func(environ map[string]string, b *bus.Bus, rdb redis.UniversalClient, log *slog.Logger) (Runner, error) {
		cfg, err := loadConfig(environ)
		if err != nil {
			return nil, err
		}
		var opts []O
		if rdb != nil {
			opts = append(opts, withRedis(rdb))
		}
		return newService(cfg, b, log, opts...)
	})
}

// Main runs the service named name until SIGINT or SIGTERM, and exits 1
// with the reason in the log if it cannot start or stops on an error.
func Main(name string, build Build) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	var level slog.Level // LOG_LEVEL: debug, info (default), warn, error
	if err := level.UnmarshalText([]byte(os.Getenv("LOG_LEVEL"))); err != nil {
		level = slog.LevelInfo
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level})).With("service", name)
	err := run(ctx, build, log)
	stop()
	if err != nil {
		log.Error(name+" stopped", "error", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, build Build, log *slog.Logger) error {
	environ := env.ToMap(os.Environ())
	busCfg, err := bus.LoadConfig(environ)
	if err != nil {
		return err
	}
	b, err := bus.Open(ctx, busCfg, log.With("component", "bus"))
	if err != nil {
		return err
	}
	defer b.Close()
	var rdb redis.UniversalClient
	if busCfg.Transport == bus.TransportDistributed {
		c := redis.NewClient(&redis.Options{Addr: busCfg.RedisAddr})
		defer c.Close()
		if err := c.Ping(ctx).Err(); err != nil {
			return fmt.Errorf("redis %s: %w", busCfg.RedisAddr, err)
		}
		rdb = c
	}
	svc, err := build(environ, b, rdb, log)
	if err != nil {
		return err
	}
	log.Info("started", "bus", busCfg.Transport)
	return svc.Run(ctx)
}
