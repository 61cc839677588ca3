package ingress

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// requests counts requests by route (host + path, "" when none matched),
// its service and the status answered (499: the client went away).
var requests = prometheus.NewCounterVec(prometheus.CounterOpts{
	Name: "mk_ingress_requests_total",
	Help: "Requests the ingress proxy answered, by route (host + path; empty: no route matched), service and status code.",
}, []string{"route", "namespace", "service", "code"})

// latency is the time from a request's arrival to the end of its
// response (a streamed response: its last byte), by route.
var latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
	Name:    "mk_ingress_request_seconds",
	Help:    "Time the ingress proxy took per request, to the end of the response, by route and service.",
	Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
}, []string{"route", "namespace", "service"})

// routesGauge and appliedIndex describe the table in use.
var (
	routesGauge = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "mk_ingress_routes",
		Help: "Routes (host + path rules) in the ingress proxy's table.",
	})
	appliedIndex = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "mk_ingress_applied_index",
		Help: "Endpoints index of the ingress proxy's route table in use.",
	})
)

// Collectors returns the ingress proxy's Prometheus collectors, for the
// agent's registry.
func Collectors() []prometheus.Collector {
	return []prometheus.Collector{requests, latency, routesGauge, appliedIndex}
}

func observe(route, namespace, service string, code int, took time.Duration) {
	requests.WithLabelValues(route, namespace, service, statusLabel(code)).Inc()
	latency.WithLabelValues(route, namespace, service).Observe(took.Seconds())
}
