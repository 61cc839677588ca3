package server

import (
	"fmt"
	"net"
	"strconv"
	"time"

	hclog "github.com/hashicorp/go-hclog"

	"github.com/mk-orchestrator/mk/structs"
)

// Config is what a server needs to run. The agent builds it from HCL files
// and flags.
type Config struct {
	// NodeName is the server's name, its Raft ID and its Serf member name.
	NodeName   string
	Datacenter string
	// DataDir holds the Raft log, stable store, snapshots and Serf snapshot.
	DataDir string
	// BindAddr is the IP every listener binds; AdvertiseAddr the one peers
	// use (defaults to BindAddr).
	BindAddr      string
	AdvertiseAddr string
	HTTPPort      int
	RaftPort      int
	SerfPort      int
	// BootstrapExpect is how many servers must be seen before the cluster
	// bootstraps itself. 1 bootstraps a single server at once.
	BootstrapExpect int
	// RetryJoin are Serf addresses (host:port) to join, retried until one
	// answers.
	RetryJoin         []string
	RetryJoinInterval time.Duration
	// EncryptKey is the Serf gossip key (16, 24 or 32 bytes), or nil.
	EncryptKey []byte
	// RaftMultiplier scales Raft's timeouts; 1 is tuned for a LAN.
	RaftMultiplier float64
	// ApplyTimeout bounds how long a write waits to enter the Raft log.
	ApplyTimeout time.Duration
	// SnapshotThreshold is the number of log entries between snapshots.
	SnapshotThreshold uint64
	// HeartbeatTTL is how often clients heartbeat; a node silent for
	// HeartbeatTTL+HeartbeatGrace is marked down. After a leader change
	// nodes get FailoverHeartbeatGrace instead, so a failover never marks
	// the fleet down.
	HeartbeatTTL           time.Duration
	HeartbeatGrace         time.Duration
	FailoverHeartbeatGrace time.Duration
	// PodGCThreshold is how long stopped, terminal pods are kept before
	// the leader collects them; PodGCKeep is how many of them each owner
	// (replica set, batch or system group) keeps, the newest, before
	// that (older ones go once they no longer count toward the owner's
	// replacement backoff).
	PodGCThreshold time.Duration
	PodGCKeep      int
	// ReconcileInterval bounds how long the leader's controllers go
	// without recomputing from state when nothing changes.
	ReconcileInterval time.Duration
	// RescheduleDelay and RescheduleMaxDelay space out the replacements
	// of a group's pods that keep failing: the second failure in a row
	// waits RescheduleDelay, each further one twice as long, up to the
	// max (0: no wait). Passes run at least every ReconcileInterval, so
	// that bounds the precision.
	RescheduleDelay    time.Duration
	RescheduleMaxDelay time.Duration
	// AutoscaleInterval is how often the leader's autoscaler computes
	// each group's count from the pods' usage (Kubernetes' HPA: 15s).
	AutoscaleInterval time.Duration
	// PodCIDRPool is the range each node's pod /24 comes from and
	// ServiceCIDR the range of ClusterIPs: cluster-wide, so every server
	// should have the same; the leader's are the ones used.
	PodCIDRPool string
	ServiceCIDR string
	// EventBufferSize is how many events the event stream keeps in
	// memory (0: stream.DefaultBufferSize); a reader resuming from an
	// older index gets a 410.
	EventBufferSize int
	Logger          hclog.Logger
}

// DefaultConfig returns a config with mk's default ports on 127.0.0.1.
func DefaultConfig() *Config {
	return &Config{
		Datacenter:             "dc1",
		BindAddr:               "127.0.0.1",
		HTTPPort:               6646,
		RaftPort:               6647,
		SerfPort:               6648,
		BootstrapExpect:        1,
		RetryJoinInterval:      time.Second,
		RaftMultiplier:         1,
		ApplyTimeout:           10 * time.Second,
		SnapshotThreshold:      8192,
		HeartbeatTTL:           10 * time.Second,
		HeartbeatGrace:         10 * time.Second,
		FailoverHeartbeatGrace: 30 * time.Second,
		PodGCThreshold:         time.Hour,
		PodGCKeep:              3,
		ReconcileInterval:      5 * time.Second,
		RescheduleDelay:        5 * time.Second,
		RescheduleMaxDelay:     5 * time.Minute,
		AutoscaleInterval:      5 * time.Second,
		PodCIDRPool:            structs.DefaultPodCIDRPool,
		ServiceCIDR:            structs.DefaultServiceCIDR,
		Logger:                 hclog.NewNullLogger(),
	}
}

// AdvertiseIP is the address other agents reach this one at.
func (c *Config) AdvertiseIP() string {
	if c.AdvertiseAddr != "" {
		return c.AdvertiseAddr
	}
	if c.BindAddr == "" || c.BindAddr == "0.0.0.0" || c.BindAddr == "::" {
		return "127.0.0.1"
	}
	return c.BindAddr
}

// RaftAddr is the address peers reach this server's Raft transport at.
func (c *Config) RaftAddr() string {
	return net.JoinHostPort(c.AdvertiseIP(), strconv.Itoa(c.RaftPort))
}

// SerfAddr is the address other agents gossip with this one at.
func (c *Config) SerfAddr() string {
	return net.JoinHostPort(c.AdvertiseIP(), strconv.Itoa(c.SerfPort))
}

// HTTPAddr is the address of this server's HTTP API.
func (c *Config) HTTPAddr() string {
	return net.JoinHostPort(c.AdvertiseIP(), strconv.Itoa(c.HTTPPort))
}

func (c *Config) validate() error {
	switch {
	case c.NodeName == "":
		return fmt.Errorf("server config: name must be set")
	case c.DataDir == "":
		return fmt.Errorf("server config: data_dir must be set")
	case c.BootstrapExpect < 0:
		return fmt.Errorf("server config: bootstrap_expect must be >= 0")
	case c.RaftMultiplier <= 0:
		return fmt.Errorf("server config: raft_multiplier must be > 0")
	case c.PodGCThreshold <= 0:
		return fmt.Errorf("server config: pod_gc_threshold must be > 0")
	case c.PodGCKeep < 0:
		return fmt.Errorf("server config: pod_gc_keep must be >= 0")
	case c.AutoscaleInterval <= 0:
		return fmt.Errorf("server config: autoscale_interval must be > 0")
	}
	return nil
}
