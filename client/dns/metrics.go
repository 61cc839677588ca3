package dns

import (
	mdns "github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
)

// Sources of an answer, the "source" label of mk_dns_queries_total.
const (
	sourceCluster = "cluster"
	sourceForward = "forward"
)

// queries counts the queries answered, by source (cluster: from the
// index; forward: through the node's resolvers) and rcode.
var queries = prometheus.NewCounterVec(prometheus.CounterOpts{
	Name: "mk_dns_queries_total",
	Help: "DNS queries answered by the node DNS, by source (cluster or forward) and rcode.",
}, []string{"source", "rcode"})

// forwardDuration is the time of forwarded queries, failures included.
var forwardDuration = prometheus.NewHistogram(prometheus.HistogramOpts{
	Name:    "mk_dns_forward_seconds",
	Help:    "Time to answer a query forwarded to the node's resolvers, failures included.",
	Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
})

// Collectors returns the node DNS's Prometheus collectors, for the agent's
// registry.
func Collectors() []prometheus.Collector {
	return []prometheus.Collector{queries, forwardDuration}
}

// maxCachedRcode bounds the rcodes whose counters are resolved once:
// NOERROR up to REFUSED, the ones the server sends.
const maxCachedRcode = mdns.RcodeRefused

// queryCounters holds the counters of the common rcodes, resolved once:
// WithLabelValues hashes its labels on every call, which the hot path of
// cluster answers need not pay.
var queryCounters = func() map[string]*[maxCachedRcode + 1]prometheus.Counter {
	m := map[string]*[maxCachedRcode + 1]prometheus.Counter{}
	for _, src := range []string{sourceCluster, sourceForward} {
		var cs [maxCachedRcode + 1]prometheus.Counter
		for rc := range cs {
			cs[rc] = queries.WithLabelValues(src, mdns.RcodeToString[rc])
		}
		m[src] = &cs
	}
	return m
}()

var (
	clusterCounters = queryCounters[sourceCluster]
	forwardCounters = queryCounters[sourceForward]
)

// countQuery counts one answer.
func countQuery(cs *[maxCachedRcode + 1]prometheus.Counter, source string, rcode int) {
	if rcode >= 0 && rcode <= maxCachedRcode {
		cs[rcode].Inc()
		return
	}
	queries.WithLabelValues(source, mdns.RcodeToString[rcode]).Inc()
}
