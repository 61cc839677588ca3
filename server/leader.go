package server

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/hashicorp/raft"
	"github.com/hashicorp/serf/serf"

	"github.com/mk-orchestrator/mk/server/gossip"
	"github.com/mk-orchestrator/mk/structs"
)

// reconcileInterval is how often the leader re-checks Raft membership
// against Serf even without events (level-triggered).
const reconcileInterval = 5 * time.Second

// monitorLeadership starts the leader loop when this server gains
// leadership and stops it when it loses it.
func (s *Server) monitorLeadership() {
	var stopCh chan struct{}
	var done chan struct{}
	stop := func() {
		if stopCh != nil {
			close(stopCh)
			<-done
			stopCh, done = nil, nil
		}
		s.leaderReady.Store(false)
	}
	for {
		select {
		case isLeader := <-s.leaderNotifyCh:
			if isLeader && stopCh == nil {
				stopCh, done = make(chan struct{}), make(chan struct{})
				go func(stopCh, done chan struct{}) {
					defer close(done)
					s.leaderLoop(stopCh)
				}(stopCh, done)
				s.logger.Info("cluster leadership acquired")
			} else if !isLeader && stopCh != nil {
				stop()
				s.logger.Info("cluster leadership lost")
			}
		case <-s.shutdownCh:
			stop()
			return
		}
	}
}

// leaderLoop runs while this server leads: it first applies a barrier so
// every entry of earlier terms is in the state store, then starts the
// node heartbeat timers and the controllers, and keeps Raft membership in
// line with Serf.
func (s *Server) leaderLoop(stopCh chan struct{}) {
	for {
		err := s.raft.Barrier(time.Minute).Error()
		if err == nil {
			break
		}
		s.logger.Error("leader barrier failed", "error", err)
		select {
		case <-time.After(time.Second):
		case <-stopCh:
			return
		}
	}
	s.leaderReady.Store(true)
	// Batch entries wait for reconcileRaftPeers to see every server's log
	// format, each term anew.
	defer s.proposer.setBatching(false)
	s.heartbeats.start()
	defer s.heartbeats.stop()
	s.proxySyncs.reset()
	controllersDone := make(chan struct{})
	go func() {
		defer close(controllersDone)
		s.controllerLoop(stopCh)
	}()
	defer func() { <-controllersDone }()
	endpointsDone := make(chan struct{})
	go func() {
		defer close(endpointsDone)
		s.endpointsLoop(stopCh)
	}()
	defer func() { <-endpointsDone }()
	autoscalerDone := make(chan struct{})
	go func() {
		defer close(autoscalerDone)
		s.autoscalerLoop(stopCh)
	}()
	defer func() { <-autoscalerDone }()
	ticker := time.NewTicker(reconcileInterval)
	defer ticker.Stop()
	for {
		s.reconcileRaftPeers()
		select {
		case <-ticker.C:
		case <-s.reconcileCh:
		case <-stopCh:
			return
		}
	}
}

// reconcileRaftPeers adds alive Serf servers missing from the Raft
// configuration and removes servers that left Serf gracefully. Failed
// servers stay: they may come back, and an operator removes dead ones with
// `mk operator raft remove-peer`.
func (s *Server) reconcileRaftPeers() {
	future := s.raft.GetConfiguration()
	if err := future.Error(); err != nil {
		s.logger.Error("get raft configuration", "error", err)
		return
	}
	inRaft := map[raft.ServerID]raft.Server{}
	for _, srv := range future.Configuration().Servers {
		inRaft[srv.ID] = srv
	}
	members := s.serf.Members()
	s.proposer.setBatching(logFormatOf(members, s.config.Datacenter, inRaft) >= structs.LogFormatBatch)
	for _, m := range members {
		sm, ok := parseServer(m)
		if !ok || m.Tags[gossip.TagDC] != s.config.Datacenter {
			continue
		}
		id := raft.ServerID(sm.ID)
		cur, present := inRaft[id]
		switch {
		case m.Status == serf.StatusAlive && (!present || cur.Address != raft.ServerAddress(sm.RaftAddr)):
			s.logger.Info("adding raft voter", "id", sm.ID, "address", sm.RaftAddr)
			if err := s.raft.AddVoter(id, raft.ServerAddress(sm.RaftAddr), 0, 10*time.Second).Error(); err != nil {
				s.logger.Error("add raft voter", "id", sm.ID, "error", err)
			}
		case m.Status == serf.StatusLeft && present && sm.ID != s.config.NodeName:
			s.logger.Info("removing raft server that left", "id", sm.ID)
			if err := s.raft.RemoveServer(id, 0, 10*time.Second).Error(); err != nil {
				s.logger.Error("remove raft server", "id", sm.ID, "error", err)
			}
		}
	}
}

// logFormatOf is the newest log format every Raft server applies: the
// lowest its Serf member advertises. A server Serf does not know counts as
// format 0, as does a member that is about to be added.
func logFormatOf(members []serf.Member, dc string, inRaft map[raft.ServerID]raft.Server) int {
	formats := map[raft.ServerID]int{}
	for _, m := range members {
		sm, ok := parseServer(m)
		if !ok || m.Tags[gossip.TagDC] != dc || m.Status == serf.StatusLeft {
			continue
		}
		f, _ := strconv.Atoi(m.Tags[gossip.TagLogFormat])
		formats[raft.ServerID(sm.ID)] = f
		if _, present := inRaft[raft.ServerID(sm.ID)]; !present && m.Status == serf.StatusAlive && f < structs.LogFormat {
			return f // joins on this pass
		}
	}
	lowest := structs.LogFormat
	for id := range inRaft {
		f, known := formats[id]
		if !known {
			return 0
		}
		lowest = min(lowest, f)
	}
	return lowest
}

// IsLeader reports whether this server is the Raft leader.
func (s *Server) IsLeader() bool { return s.raft.State() == raft.Leader }

// Leader returns the leader's Raft address and ID ("" when unknown).
func (s *Server) Leader() (string, string) {
	addr, id := s.raft.LeaderWithID()
	return string(addr), string(id)
}

// LeaderHTTPAddr returns the HTTP address of the current leader.
func (s *Server) LeaderHTTPAddr() (string, error) {
	_, id := s.Leader()
	if id == "" {
		return "", structs.ErrNoLeader
	}
	addr, ok := s.MemberHTTPAddr(id)
	if !ok {
		return "", fmt.Errorf("%w: leader %q has no known HTTP address", structs.ErrNoLeader, id)
	}
	return addr, nil
}

// ConsistentRead checks that this server is still the leader and has
// caught up with earlier terms, so a read of local state that follows is
// linearizable.
func (s *Server) ConsistentRead() error {
	if !s.leaderReady.Load() {
		return fmt.Errorf("%w: leader not ready", structs.ErrNoLeader)
	}
	if err := s.raft.VerifyLeader().Error(); err != nil {
		return fmt.Errorf("%w: %v", structs.ErrNoLeader, err)
	}
	return nil
}

// raftApply proposes one command and waits until this server's FSM has
// applied it. A response that is an error is returned as the error.
func (s *Server) raftApply(t structs.MessageType, msg any) (any, uint64, error) {
	buf, err := structs.Encode(t, msg)
	if err != nil {
		return nil, 0, err
	}
	start := time.Now()
	res := s.proposer.propose(buf)
	raftApplyDuration.Observe(time.Since(start).Seconds())
	if err := res.err; err != nil {
		if errors.Is(err, raft.ErrNotLeader) || errors.Is(err, raft.ErrLeadershipLost) ||
			errors.Is(err, raft.ErrEnqueueTimeout) || errors.Is(err, raft.ErrRaftShutdown) ||
			errors.Is(err, raft.ErrLeadershipTransferInProgress) {
			return nil, 0, fmt.Errorf("%w: apply %s: %v", structs.ErrNoLeader, t, err)
		}
		return nil, 0, fmt.Errorf("apply %s: %w", t, err)
	}
	if respErr, ok := res.resp.(error); ok {
		return nil, res.index, respErr
	}
	return res.resp, res.index, nil
}
