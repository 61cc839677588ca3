package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"time"

	"github.com/hashicorp/raft"
	"github.com/hashicorp/serf/serf"
	"github.com/mk-orchestrator/mk/server/gossip"
	"github.com/mk-orchestrator/mk/structs"
)

func (s *Server) setupSerf() error {
	c := s.config
	var err error
	s.serf, err = gossip.New(gossip.Config{
		Name: c.NodeName, BindAddr: c.BindAddr, AdvertiseIP: c.AdvertiseIP(), Port: c.SerfPort,
		EncryptKey: c.EncryptKey, DataDir: c.DataDir, EventCh: s.serfEventCh, Logger: c.Logger,
		Tags: map[string]string{
			gossip.TagRole:      gossip.RoleServer,
			gossip.TagID:        c.NodeName,
			gossip.TagDC:        c.Datacenter,
			gossip.TagRaftAddr:  c.RaftAddr(),
			gossip.TagHTTPAddr:  c.HTTPAddr(),
			gossip.TagExpect:    strconv.Itoa(c.BootstrapExpect),
			gossip.TagLogFormat: strconv.Itoa(structs.LogFormat),
		},
	})
	return err
}

// serverMember is a Serf member that is an mk server.
type serverMember struct {
	ID       string
	RaftAddr string
	HTTPAddr string
	Expect   int
	Status   serf.MemberStatus
}

func parseServer(m serf.Member) (*serverMember, bool) {
	if m.Tags[gossip.TagRole] != gossip.RoleServer {
		return nil, false
	}
	expect, _ := strconv.Atoi(m.Tags[gossip.TagExpect])
	return &serverMember{ID: m.Tags[gossip.TagID], RaftAddr: m.Tags[gossip.TagRaftAddr], HTTPAddr: m.Tags[gossip.TagHTTPAddr],
		Expect: expect, Status: m.Status}, true
}

// Members returns the Serf members this agent sees.
func (s *Server) Members() []serf.Member { return s.serf.Members() }

// aliveServers lists the alive server members of this datacenter.
func (s *Server) aliveServers() []*serverMember {
	var out []*serverMember
	for _, m := range s.serf.Members() {
		sm, ok := parseServer(m)
		if ok && m.Status == serf.StatusAlive && m.Tags[gossip.TagDC] == s.config.Datacenter {
			out = append(out, sm)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

func (s *Server) serfEventLoop() {
	// Bootstrapping may wait on peers' HTTP APIs, which start after Serf:
	// retry on a timer as well as on member events until it is done.
	bootstrapTick := time.NewTicker(500 * time.Millisecond)
	defer bootstrapTick.Stop()
	for {
		select {
		case <-bootstrapTick.C:
			s.maybeBootstrap()
		case e := <-s.serfEventCh:
			switch e.EventType() {
			case serf.EventMemberJoin, serf.EventMemberUpdate:
				s.maybeBootstrap()
				s.triggerReconcile()
			case serf.EventMemberLeave, serf.EventMemberFailed:
				s.clientMembersGone(e.(serf.MemberEvent).Members)
				s.triggerReconcile()
			case serf.EventMemberReap:
				s.triggerReconcile()
			}
		case <-s.shutdownCh:
			return
		}
	}
}

// clientMembersGone tells the heartbeat timers that the hosts of these
// clients failed or left the pool: a node whose heartbeats also stop is
// then marked down after the grace alone, not the whole TTL. A client that
// still heartbeats stays up (its gossip may be what is broken).
func (s *Server) clientMembersGone(members []serf.Member) {
	if !s.IsLeader() {
		return
	}
	for _, m := range members {
		if id := m.Tags[gossip.TagNodeID]; id != "" && m.Tags[gossip.TagDC] == s.config.Datacenter {
			s.logger.Info("client's serf member is gone", "member", m.Name, "node_id", id, "status", m.Status.String())
			s.heartbeats.memberGone(id)
		}
	}
}

// SetClientNodeID publishes the node ID of this agent's own client role in
// its Serf tags, so the leader links the member to the node.
func (s *Server) SetClientNodeID(nodeID string) error {
	tags := make(map[string]string, len(s.serf.LocalMember().Tags)+1)
	for k, v := range s.serf.LocalMember().Tags {
		tags[k] = v
	}
	tags[gossip.TagNodeID] = nodeID
	if err := s.serf.SetTags(tags); err != nil {
		return fmt.Errorf("set serf tag %s: %w", gossip.TagNodeID, err)
	}
	return nil
}

func (s *Server) triggerReconcile() {
	select {
	case s.reconcileCh <- struct{}{}:
	default:
	}
}

// retryJoin joins the configured Serf addresses until one answers.
func (s *Server) retryJoin() {
	gossip.RetryJoin(s.serf, s.config.RetryJoin, s.config.RetryJoinInterval, s.shutdownCh, s.logger)
}

// maybeBootstrap bootstraps Raft once bootstrap_expect servers are seen, and
// only if none of them is already part of a cluster. Every server computes
// the same configuration from the same members, so they agree.
func (s *Server) maybeBootstrap() {
	if s.bootstrapped.Load() || s.config.BootstrapExpect == 0 {
		return
	}
	servers := s.aliveServers()
	for _, sm := range servers {
		if sm.Expect != s.config.BootstrapExpect {
			s.logger.Error("peer has a different bootstrap_expect; not bootstrapping",
				"peer", sm.ID, "peer_expect", sm.Expect, "expect", s.config.BootstrapExpect)
			return
		}
	}
	if len(servers) < s.config.BootstrapExpect {
		return
	}
	var conf raft.Configuration
	for _, sm := range servers {
		if sm.ID != s.config.NodeName {
			hasPeers, err := s.peerHTTPCheck(sm.HTTPAddr)
			if err != nil {
				s.logger.Debug("bootstrap: cannot ask peer yet", "peer", sm.ID, "error", err)
				return
			}
			if hasPeers {
				s.logger.Info("bootstrap: peer is in a cluster already; waiting to be added", "peer", sm.ID)
				s.bootstrapped.Store(true)
				return
			}
		}
		conf.Servers = append(conf.Servers, raft.Server{
			ID: raft.ServerID(sm.ID), Address: raft.ServerAddress(sm.RaftAddr), Suffrage: raft.Voter,
		})
	}
	if !s.bootstrapped.CompareAndSwap(false, true) {
		return
	}
	s.logger.Info("bootstrapping raft", "servers", len(conf.Servers))
	if err := s.raft.BootstrapCluster(conf).Error(); err != nil && err != raft.ErrCantBootstrap {
		s.logger.Error("bootstrap failed", "error", err)
	}
}

// peerHasRaftPeers asks a server's HTTP API whether it already has Raft
// peers.
func (s *Server) peerHasRaftPeers(httpAddr string) (bool, error) {
	client := http.Client{Timeout: 2 * time.Second}
	resp, err := client.Get("http://" + httpAddr + "/v1/status/peers?stale")
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return false, fmt.Errorf("peer status: %s", resp.Status)
	}
	var peers []string
	if err := json.NewDecoder(resp.Body).Decode(&peers); err != nil {
		return false, err
	}
	return len(peers) > 0, nil
}

// MemberHTTPAddr returns the HTTP address of the server with a Raft ID.
func (s *Server) MemberHTTPAddr(id string) (string, bool) {
	for _, m := range s.serf.Members() {
		if sm, ok := parseServer(m); ok && sm.ID == id && m.Status == serf.StatusAlive {
			return sm.HTTPAddr, true
		}
	}
	return "", false
}

// SerfAddr is this server's Serf address.
func (s *Server) SerfAddr() string { return s.config.SerfAddr() }
