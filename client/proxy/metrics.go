package proxy

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// syncDuration is the time of one sync, from the update to the rules in
// the kernel (Compute, render, restore), by mode and kind (full or
// partial): partial syncs should stay flat as services grow.
var syncDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
	Name:    "mk_proxy_sync_seconds",
	Help:    "Time of one service proxy sync, by mode (iptables, nftables) and kind (full, partial).",
	Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
}, []string{"mode", "kind"})

// lastSyncDuration is the last sync's time, for a glance at /v1/metrics.
var lastSyncDuration = prometheus.NewGaugeVec(prometheus.GaugeOpts{
	Name: "mk_proxy_last_sync_seconds",
	Help: "Time of the last service proxy sync.",
}, []string{"mode"})

// syncErrors counts failed syncs (each is retried as a full sync).
var syncErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
	Name: "mk_proxy_sync_errors_total",
	Help: "Service proxy syncs that failed.",
}, []string{"mode"})

// Collectors returns the proxy's Prometheus collectors, for the client's
// registry.
func Collectors() []prometheus.Collector {
	return []prometheus.Collector{syncDuration, lastSyncDuration, syncErrors}
}

func observeSync(mode string, full bool, took time.Duration, err error) {
	if err != nil {
		syncErrors.WithLabelValues(mode).Inc()
		return
	}
	kind := "partial"
	if full {
		kind = "full"
	}
	syncDuration.WithLabelValues(mode, kind).Observe(took.Seconds())
	lastSyncDuration.WithLabelValues(mode).Set(took.Seconds())
}
