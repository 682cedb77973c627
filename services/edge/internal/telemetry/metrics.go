// Package telemetry exposes the edge's Prometheus metrics.
package telemetry

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"realtime/pkg/engineio"
)

const namespace = "realtime_edge"

// Auth failure reasons, kept to a fixed set so the label cannot grow.
const (
	ReasonMissing = "missing" // no token where one is required
	ReasonInvalid = "invalid" // a token (or auth payload) that did not verify
)

// Metrics owns a private registry: a process may build several services (the
// embedded mode, component tests) and each must report only its own numbers.
type Metrics struct {
	registry     *prometheus.Registry
	authFailures *prometheus.CounterVec
}

// Outbox reads the counters of the membership-event outbox; telemetry
// takes functions rather than the outbox's type so that it depends on
// nothing of the application.
type Outbox struct {
	Queued                                func() int64
	Published, Failures, Refused, Dropped func() uint64
}

// New registers the edge's metrics. The socket server's and the outbox's
// counters are read at scrape time from their atomics (GaugeFunc /
// CounterFunc), so the hot path pays nothing for metrics.
func New(stats *engineio.Stats, outbox Outbox) *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{
		registry: reg,
		authFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace,
			Name:      "auth_failures_total",
			Help:      "Socket.IO connections refused at authentication, by reason.",
		}, []string{"reason"}),
	}
	// Pre-create each label so the series exist (at 0) before the first failure.
	m.authFailures.WithLabelValues(ReasonMissing)
	m.authFailures.WithLabelValues(ReasonInvalid)

	counter := func(name, help string, v interface{ Load() int64 }) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: namespace, Name: name, Help: help},
			func() float64 { return float64(v.Load()) })
	}
	ucounter := func(name, help string, v func() uint64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: namespace, Name: name, Help: help},
			func() float64 { return float64(v()) })
	}
	reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: namespace, Name: "connections",
			Help: "Open Engine.IO sessions (any transport).",
		}, func() float64 { return float64(stats.Sessions.Load()) }),
		counter("handshakes_total", "Engine.IO sessions opened.", &stats.Handshakes),
		counter("upgrades_total", "Sessions upgraded from long-polling to WebSocket.", &stats.Upgrades),
		counter("packets_in_total", "Engine.IO packets received from clients.", &stats.PacketsIn),
		counter("packets_out_total", "Engine.IO packets sent to clients.", &stats.PacketsOut),
		counter("bytes_in_total", "Payload bytes received from clients.", &stats.BytesIn),
		counter("errors_total", "Protocol and transport errors.", &stats.Errors),
		counter("bad_requests_total", "HTTP requests to the socket endpoint refused with 4xx.", &stats.BadRequests),
		counter("slow_consumers_total", "Sessions closed because their send buffer overflowed.", &stats.SlowConsumers),
		counter("volatile_dropped_total", "Volatile messages (counts, typing) dropped for clients behind on their send queue.", &stats.VolatileDropped),
		counter("ping_timeouts_total", "Sessions closed because no pong arrived in time.", &stats.PingTimeouts),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: namespace, Name: "outbox_queued",
			Help: "Membership events (session, room joins and leaves) waiting to be published.",
		}, func() float64 { return float64(outbox.Queued()) }),
		ucounter("outbox_published_total", "Membership events the bus accepted.", outbox.Published),
		ucounter("outbox_publish_failures_total", "Refused publish attempts of membership events (each is retried).", outbox.Failures),
		ucounter("outbox_refused_total", "Joins refused because the outbox was full or shut down.", outbox.Refused),
		ucounter("outbox_dropped_total", "Membership events given up on (permanent error, or still queued at the shutdown deadline).", outbox.Dropped),
		m.authFailures,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return m
}

// AuthFailed counts one refused connection.
func (m *Metrics) AuthFailed(reason string) { m.authFailures.WithLabelValues(reason).Inc() }

// Handler serves the registry in the Prometheus exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{Registry: m.registry})
}
