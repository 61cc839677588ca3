package server

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/mk-orchestrator/mk/server/fsm"
)

// raftApplyDuration is the time from proposing a command to its being
// applied on this (leader) server: log write, replication and FSM apply.
var raftApplyDuration = prometheus.NewHistogram(prometheus.HistogramOpts{
	Name:    "mk_raft_apply_seconds",
	Help:    "Time from proposing a Raft command to its being applied on the leader.",
	Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16),
})

// entryCommands is the number of commands per Raft entry this leader
// proposed: 1 when idle, more under load (proposer.go).
var entryCommands = prometheus.NewHistogram(prometheus.HistogramOpts{
	Name:    "mk_raft_entry_commands",
	Help:    "Commands per Raft log entry proposed by this server (batch entries hold several).",
	Buckets: prometheus.ExponentialBuckets(1, 2, 10),
})

// batchEntriesOn is 1 while this leader writes batch entries: every server
// advertises a log format that has them (a rolling upgrade is done).
var batchEntriesOn = prometheus.NewGauge(prometheus.GaugeOpts{
	Name: "mk_raft_batch_entries",
	Help: "1 while this server, as leader, writes batch entries (every server applies them), else 0.",
})

// controllerPassDuration is the time of one controller pass, full (every
// job and pod) or incremental (what changed since the last pass): full
// passes grow with the cluster, and they run every ReconcileInterval.
var controllerPassDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
	Name:    "mk_controller_pass_seconds",
	Help:    "Time of one pass of the leader's controllers, by kind (full or incremental).",
	Buckets: prometheus.ExponentialBuckets(0.0001, 2, 18),
}, []string{"kind"})

// podsCreated counts the pods the leader's controllers wrote for the first
// time. Against the jobs registered, it shows how far pod creation lags
// the API under a burst of registers (the register benchmark reads it).
var podsCreated = prometheus.NewCounter(prometheus.CounterOpts{
	Name: "mk_controller_pods_created_total",
	Help: "Pods created by the leader's controllers (since this server became leader or started).",
})

// podsCollected counts the terminal pods the garbage collector deleted.
var podsCollected = prometheus.NewCounter(prometheus.CounterOpts{
	Name: "mk_gc_pods_collected_total",
	Help: "Terminal pods deleted by the leader's garbage collector.",
})

// Collectors returns the server's Prometheus collectors, the FSM's included.
func Collectors() []prometheus.Collector {
	return append([]prometheus.Collector{raftApplyDuration, entryCommands, batchEntriesOn, controllerPassDuration, podsCreated, podsCollected}, fsm.Collectors()...)
}
