// Package gossip builds the Serf member every mk agent runs in the
// cluster's one LAN pool (DESIGN §8): servers find each other through it
// to bootstrap Raft, and the leader learns from it that a client's host
// failed. Servers and client-only agents build their member the same way
// here; what they do with the events is theirs.
package gossip

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	hclog "github.com/hashicorp/go-hclog"
	"github.com/hashicorp/memberlist"
	"github.com/hashicorp/serf/serf"
)

// Tags every mk agent publishes.
const (
	TagRole     = "role"
	TagID       = "id"
	TagDC       = "dc"
	TagRaftAddr = "raft_addr"
	TagHTTPAddr = "http_addr"
	TagExpect   = "expect"
	// TagNodeID is the node ID of the agent's client role, when it has one.
	TagNodeID = "node_id"
	// TagLogFormat is the newest Raft log format a server applies
	// (structs.LogFormat); the leader writes no newer entries until every
	// server has it, so a rolling upgrade never hands an old server an
	// entry it cannot apply.
	TagLogFormat = "log_format"

	RoleServer = "server"
	RoleClient = "client"
)

// snapshotFile keeps the member list across restarts, under the data dir.
const snapshotFile = "serf/local.snapshot"

var logOpts = &hclog.StandardLoggerOptions{InferLevels: true}

// Config configures an agent's Serf member.
type Config struct {
	// Name is the member's name, unique in the pool: the agent's name.
	Name        string
	BindAddr    string
	AdvertiseIP string
	Port        int
	// EncryptKey is the gossip key (16, 24 or 32 bytes), or nil.
	EncryptKey []byte
	DataDir    string
	Tags       map[string]string
	// EventCh receives member events; nil drops them.
	EventCh chan<- serf.Event
	Logger  hclog.Logger
}

// New creates the member and starts gossiping; Join connects it to others.
func New(c Config) (*serf.Serf, error) {
	conf := serf.DefaultConfig()
	conf.Init()
	conf.NodeName = c.Name
	conf.Tags = c.Tags
	conf.EventCh = c.EventCh
	conf.Logger = nil
	conf.LogOutput = c.Logger.Named("serf").StandardWriter(logOpts)
	conf.MemberlistConfig = memberlist.DefaultLANConfig()
	conf.MemberlistConfig.Name = c.Name
	conf.MemberlistConfig.BindAddr = c.BindAddr
	conf.MemberlistConfig.BindPort = c.Port
	conf.MemberlistConfig.AdvertiseAddr = c.AdvertiseIP
	conf.MemberlistConfig.AdvertisePort = c.Port
	conf.MemberlistConfig.LogOutput = conf.LogOutput
	conf.MemberlistConfig.SecretKey = c.EncryptKey
	conf.SnapshotPath = filepath.Join(c.DataDir, snapshotFile)
	conf.RejoinAfterLeave = true
	if err := os.MkdirAll(filepath.Dir(conf.SnapshotPath), 0o700); err != nil {
		return nil, fmt.Errorf("serf snapshot dir: %w", err)
	}
	s, err := serf.Create(conf)
	if err != nil {
		return nil, fmt.Errorf("create serf member %s: %w", c.Name, err)
	}
	return s, nil
}

// RetryJoin joins addrs (Serf host:port) until one answers or stop closes.
func RetryJoin(s *serf.Serf, addrs []string, interval time.Duration, stop <-chan struct{}, logger hclog.Logger) {
	if len(addrs) == 0 {
		return
	}
	for {
		n, err := s.Join(addrs, true)
		if err == nil || n > 0 {
			logger.Info("joined cluster", "contacted", n)
			return
		}
		logger.Debug("retry join", "error", err)
		select {
		case <-time.After(interval):
		case <-stop:
			return
		}
	}
}
