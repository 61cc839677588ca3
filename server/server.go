// Package server is an mk server: a Raft member replicating the cluster
// state, a Serf member, and on the leader the loops that act on the state.
// The HTTP API on top of it lives in server/httpapi.
package server

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	hclog "github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"github.com/hashicorp/serf/serf"
	"go.etcd.io/bbolt"

	"github.com/mk-orchestrator/mk/server/fsm"
	"github.com/mk-orchestrator/mk/server/state"
	"github.com/mk-orchestrator/mk/server/stream"
)

// Server is one mk server. Its methods are safe for concurrent use.
type Server struct {
	config *Config
	logger hclog.Logger

	fsm       *fsm.FSM
	raft      *raft.Raft
	proposer  *proposer
	layer     *raftLayer
	transport *raft.NetworkTransport
	boltStore *raftboltdb.BoltStore
	snapshots *raft.FileSnapshotStore
	// leaderNotifyCh receives Raft leadership changes.
	leaderNotifyCh chan bool
	// leaderReady is true once this server, as leader, has applied every
	// entry of earlier terms (a barrier); consistent reads wait for it.
	leaderReady atomic.Bool

	serf          *serf.Serf
	serfEventCh   chan serf.Event
	bootstrapped  atomic.Bool
	reconcileCh   chan struct{}
	peerHTTPCheck func(httpAddr string) (bool, error)

	heartbeats     *heartbeats
	controllerKick chan struct{}
	podIDs         *podIDs
	// planMu serializes the plan applier.
	planMu sync.Mutex
	// dirty collects the jobs the leader's endpoints changed, for the
	// next incremental controller pass.
	dirty dirtySet
	// proxySyncs and drainWaits let the leader stop draining pods once
	// every node's proxy dropped them (drain.go).
	proxySyncs *proxySyncs
	drainWaits struct {
		sync.Mutex
		jobs map[string]bool
	}
	// apiWrites counts the API's writes being proposed now.
	apiWrites atomic.Int64
	// roomIndex is the Raft index at which room for pods last may have
	// changed (nodes changed, a pod ended or was stopped), as the
	// controller loop last saw it. A pending pod whose reason was written
	// after it still has that reason.
	roomIndex uint64
	// usage is the leader's window of pod usage samples (usage.go).
	usage *usageWindow

	shutdownOnce sync.Once
	shutdownCh   chan struct{}
	wg           sync.WaitGroup
}

// NewServer starts a server: Raft, Serf, the leadership monitor and the
// join loops. It returns once the listeners are bound.
func NewServer(config *Config) (*Server, error) {
	if err := config.validate(); err != nil {
		return nil, err
	}
	s := &Server{
		config:         config,
		logger:         config.Logger.Named("server"),
		leaderNotifyCh: make(chan bool, 16),
		serfEventCh:    make(chan serf.Event, 256),
		reconcileCh:    make(chan struct{}, 1),
		shutdownCh:     make(chan struct{}),
	}
	s.peerHTTPCheck = s.peerHasRaftPeers
	s.podIDs = newPodIDs()
	s.heartbeats = newHeartbeats(s)
	s.proxySyncs = newProxySyncs()
	s.controllerKick = make(chan struct{}, 1)
	s.usage = newUsageWindow()
	var err error
	if s.fsm, err = fsm.New(config.Logger, fsm.WithEventBuffer(config.EventBufferSize)); err != nil {
		return nil, err
	}
	if err := s.setupRaft(); err != nil {
		s.Shutdown()
		return nil, fmt.Errorf("setup raft: %w", err)
	}
	if err := s.setupSerf(); err != nil {
		s.Shutdown()
		return nil, fmt.Errorf("setup serf: %w", err)
	}
	s.goFunc(s.monitorLeadership)
	s.goFunc(s.serfEventLoop)
	if len(config.RetryJoin) > 0 {
		s.goFunc(s.retryJoin)
	}
	s.maybeBootstrap()
	return s, nil
}

func (s *Server) goFunc(fn func()) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		fn()
	}()
}

func (s *Server) setupRaft() error {
	c := s.config
	raftDir := filepath.Join(c.DataDir, "raft")
	if err := os.MkdirAll(raftDir, 0o700); err != nil {
		return err
	}
	advertise, err := net.ResolveTCPAddr("tcp", c.RaftAddr())
	if err != nil {
		return fmt.Errorf("resolve raft advertise address: %w", err)
	}
	s.layer, err = newRaftLayer(net.JoinHostPort(c.BindAddr, fmt.Sprint(c.RaftPort)), advertise)
	if err != nil {
		return fmt.Errorf("listen raft: %w", err)
	}
	s.transport = raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		Stream:  s.layer,
		MaxPool: 3,
		// Synchronous replication: each AppendEntries carries all that queued
		// since the last, which batched better here than pipelining (raft#541).
		MaxRPCsInFlight: 1,
		Timeout:         10 * time.Second,
		Logger:          c.Logger.Named("raft-net"),
	})
	s.boltStore, err = raftboltdb.New(raftboltdb.Options{
		Path: filepath.Join(raftDir, "raft.db"),
		BoltOptions: &bbolt.Options{
			Timeout: 5 * time.Second,
			// Reserve address space up front so the growing log does not
			// remap (and stall every write) as often.
			InitialMmapSize: 256 << 20,
			// The freelist is rebuilt on open instead of written with
			// every commit: less to write per append.
			NoFreelistSync: true,
			FreelistType:   bbolt.FreelistMapType,
		},
	})
	if err != nil {
		return fmt.Errorf("open raft store: %w", err)
	}
	logs, err := raft.NewLogCache(512, s.boltStore)
	if err != nil {
		return err
	}
	s.snapshots, err = raft.NewFileSnapshotStoreWithLogger(raftDir, 2, c.Logger.Named("raft-snap"))
	if err != nil {
		return fmt.Errorf("open snapshot store: %w", err)
	}
	rc := s.raftConfig()
	existing, err := raft.HasExistingState(logs, s.boltStore, s.snapshots)
	if err != nil {
		return err
	}
	s.bootstrapped.Store(existing)
	s.raft, err = raft.NewRaft(rc, s.fsm, logs, s.boltStore, s.snapshots, s.transport)
	if err != nil {
		return err
	}
	s.proposer = newProposer(s.raft, s.config.ApplyTimeout, entriesInFlight, s.shutdownCh)
	s.goFunc(s.proposer.run)
	s.goFunc(s.proposer.complete)
	return nil
}

func (s *Server) raftConfig() *raft.Config {
	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(s.config.NodeName)
	rc.Logger = s.config.Logger.Named("raft")
	rc.NotifyCh = s.leaderNotifyCh
	rc.BatchApplyCh = true
	rc.MaxAppendEntries = 256
	rc.SnapshotThreshold = s.config.SnapshotThreshold
	m := s.config.RaftMultiplier
	scale := func(d time.Duration) time.Duration { return time.Duration(float64(d) * m) }
	rc.HeartbeatTimeout = scale(rc.HeartbeatTimeout)
	rc.ElectionTimeout = scale(rc.ElectionTimeout)
	rc.LeaderLeaseTimeout = scale(rc.LeaderLeaseTimeout)
	return rc
}

// State returns the current state store.
func (s *Server) State() *state.StateStore { return s.fsm.State() }

// Events is the broker of the changes this server's FSM applied: the
// event stream any server serves.
func (s *Server) Events() *stream.Broker { return s.fsm.Events() }

// Config returns the server's config; callers must not change it.
func (s *Server) Config() *Config { return s.config }

// Logger returns the server's logger.
func (s *Server) Logger() hclog.Logger { return s.logger }

// Raft exposes the Raft node for operator endpoints.
func (s *Server) Raft() *raft.Raft { return s.raft }

// PartitionRaft cuts (true) or heals (false) this server's Raft traffic,
// leaving HTTP and Serf alone. It exists for fault-injection tests.
func (s *Server) PartitionRaft(cut bool) { s.layer.SetPartitioned(cut) }

// Leave leaves the cluster gracefully: a leader first hands its seat over,
// then the server leaves Serf so the leader removes it from Raft.
func (s *Server) Leave() error {
	s.logger.Info("leaving cluster")
	if s.IsLeader() && s.numRaftServers() > 1 {
		if err := s.raft.RemoveServer(raft.ServerID(s.config.NodeName), 0, 5*time.Second).Error(); err != nil {
			s.logger.Warn("remove self from raft on leave", "error", err)
		}
	}
	if s.serf != nil {
		if err := s.serf.Leave(); err != nil {
			return fmt.Errorf("leave serf: %w", err)
		}
	}
	return nil
}

func (s *Server) numRaftServers() int {
	future := s.raft.GetConfiguration()
	if future.Error() != nil {
		return 0
	}
	return len(future.Configuration().Servers)
}

// Shutdown stops the server without leaving: peers see it as failed, as
// after a crash. It is safe to call more than once.
func (s *Server) Shutdown() {
	s.shutdownOnce.Do(func() {
		s.logger.Info("shutting down")
		close(s.shutdownCh)
		if s.serf != nil {
			_ = s.serf.Shutdown()
		}
		if s.raft != nil {
			if err := s.raft.Shutdown().Error(); err != nil {
				s.logger.Warn("raft shutdown", "error", err)
			}
		}
		if s.transport != nil {
			_ = s.transport.Close()
		}
		if s.boltStore != nil {
			_ = s.boltStore.Close()
		}
		s.wg.Wait()
	})
}

// ShutdownCh is closed when the server shuts down.
func (s *Server) ShutdownCh() <-chan struct{} { return s.shutdownCh }
