// Command presence runs the presence worker alone: viewer and chatter
// counts, edge leases, multi-device playback sync. BUS=distributed puts it
// on Kafka and Redis Streams, with its state in Redis; BUS=memory (the
// default) keeps everything in this process. (The edge also runs it
// in-process in embedded mode.)
//
// PPROF_ADDR (such as 127.0.0.1:6061, unset by default) serves the Go
// profiler there, for diagnosis only: never expose it publicly.
package main

import (
	"context"
	"log/slog"
	"os"

	"realtime/pkg/profiling"
	"realtime/pkg/worker"
	"realtime/services/presence/service"
)

func main() {
	if addr := os.Getenv("PPROF_ADDR"); addr != "" {
		stop, err := profiling.Serve(context.Background(), addr, slog.Default())
		if err != nil {
			slog.Error("presence stopped", "error", err)
			os.Exit(1)
		}
		defer stop()
	}
	worker.Service("presence", service.LoadConfig, service.WithRedis, service.New)
}
