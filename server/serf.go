package server

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"time"

	hclog "github.com/hashicorp/go-hclog"
	"github.com/hashicorp/memberlist"
	"github.com/hashicorp/raft"
	"github.com/hashicorp/serf/serf"
)

// Serf tags every mk agent publishes.
const (
	TagRole      = "role"
	TagID        = "id"
	TagDC        = "dc"
	TagRaftAddr  = "raft_addr"
	TagHTTPAddr  = "http_addr"
	TagExpect    = "expect"
	RoleServer   = "server"
	serfSnapshot = "serf/local.snapshot"
)

var serfLogOpts = &hclog.StandardLoggerOptions{InferLevels: true}

func (s *Server) setupSerf() error {
	c := s.config
	conf := serf.DefaultConfig()
	conf.Init()
	conf.NodeName = c.NodeName
	conf.Tags = map[string]string{
		TagRole:     RoleServer,
		TagID:       c.NodeName,
		TagDC:       c.Datacenter,
		TagRaftAddr: c.RaftAddr(),
		TagHTTPAddr: c.HTTPAddr(),
		TagExpect:   strconv.Itoa(c.BootstrapExpect),
	}
	conf.EventCh = s.serfEventCh
	conf.Logger = nil
	conf.LogOutput = s.config.Logger.Named("serf").StandardWriter(serfLogOpts)
	conf.MemberlistConfig = memberlist.DefaultLANConfig()
	conf.MemberlistConfig.Name = c.NodeName
	conf.MemberlistConfig.BindAddr = c.BindAddr
	conf.MemberlistConfig.BindPort = c.SerfPort
	conf.MemberlistConfig.AdvertiseAddr = c.advertiseIP()
	conf.MemberlistConfig.AdvertisePort = c.SerfPort
	conf.MemberlistConfig.LogOutput = conf.LogOutput
	conf.MemberlistConfig.SecretKey = c.EncryptKey
	conf.SnapshotPath = filepath.Join(c.DataDir, serfSnapshot)
	conf.RejoinAfterLeave = true
	if err := os.MkdirAll(filepath.Dir(conf.SnapshotPath), 0o700); err != nil {
		return err
	}
	var err error
	s.serf, err = serf.Create(conf)
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
	if m.Tags[TagRole] != RoleServer {
		return nil, false
	}
	expect, _ := strconv.Atoi(m.Tags[TagExpect])
	return &serverMember{ID: m.Tags[TagID], RaftAddr: m.Tags[TagRaftAddr], HTTPAddr: m.Tags[TagHTTPAddr],
		Expect: expect, Status: m.Status}, true
}

// Members returns the Serf members this agent sees.
func (s *Server) Members() []serf.Member { return s.serf.Members() }

// aliveServers lists the alive server members of this datacenter.
func (s *Server) aliveServers() []*serverMember {
	var out []*serverMember
	for _, m := range s.serf.Members() {
		sm, ok := parseServer(m)
		if ok && m.Status == serf.StatusAlive && m.Tags[TagDC] == s.config.Datacenter {
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
			case serf.EventMemberLeave, serf.EventMemberFailed, serf.EventMemberReap:
				s.triggerReconcile()
			}
		case <-s.shutdownCh:
			return
		}
	}
}

func (s *Server) triggerReconcile() {
	select {
	case s.reconcileCh <- struct{}{}:
	default:
	}
}

// retryJoin joins the configured Serf addresses until one answers.
func (s *Server) retryJoin() {
	for {
		n, err := s.serf.Join(s.config.RetryJoin, true)
		if err == nil || n > 0 {
			s.logger.Info("joined cluster", "contacted", n)
			return
		}
		s.logger.Debug("retry join", "error", err)
		select {
		case <-time.After(s.config.RetryJoinInterval):
		case <-s.shutdownCh:
			return
		}
	}
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
func (s *Server) SerfAddr() string {
	return net.JoinHostPort(s.config.advertiseIP(), strconv.Itoa(s.config.SerfPort))
}
