package agent

import (
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/mk-orchestrator/mk/api"
	"github.com/mk-orchestrator/mk/server"
	"github.com/mk-orchestrator/mk/server/gossip"
	"github.com/mk-orchestrator/mk/server/httpapi"
)

// joinRetryInterval is how often a client-only agent tries to join the
// gossip pool until it gets in.
const joinRetryInterval = 2 * time.Second

// startClientOnlyAPI serves the HTTP API of an agent without the server
// role: its own pods here, everything else forwarded to client.servers.
func (a *Agent) startClientOnlyAPI(sc *server.Config) error {
	a.http = httpapi.NewClientOnly(httpapi.ClientAgentInfo{
		Name: sc.NodeName, Datacenter: sc.Datacenter, DataDir: sc.DataDir, HTTPAddr: sc.HTTPAddr(),
		SerfAddr: sc.SerfAddr(), Servers: a.config.Client.Servers,
	}, a.logger)
	if a.config.EnableDebug {
		a.http.EnableDebug()
	}
	if err := a.http.Start(sc.HTTPAddr()); err != nil {
		return err
	}
	a.logger.Info("agent started (client only)", "name", sc.NodeName, "http", sc.HTTPAddr(),
		"serf", sc.SerfAddr(), "servers", a.config.Client.Servers, "data_dir", sc.DataDir)
	return nil
}

// joinAsClient puts a client-only agent into the servers' gossip pool,
// tagged with its node ID, so the leader hears at once when its host
// fails. It joins retry_join when set, else the Serf addresses the
// servers publish; it keeps trying in the background until it is in.
func (a *Agent) joinAsClient(sc *server.Config) error {
	var err error
	a.serf, err = gossip.New(gossip.Config{
		Name: sc.NodeName, BindAddr: sc.BindAddr, AdvertiseIP: sc.AdvertiseIP(), Port: sc.SerfPort,
		EncryptKey: sc.EncryptKey, DataDir: sc.DataDir, Logger: a.logger,
		Tags: map[string]string{
			gossip.TagRole:     gossip.RoleClient,
			gossip.TagID:       sc.NodeName,
			gossip.TagDC:       sc.Datacenter,
			gossip.TagHTTPAddr: sc.HTTPAddr(),
			gossip.TagNodeID:   a.client.NodeID(),
		},
	})
	if err != nil {
		return fmt.Errorf("start serf: %w", err)
	}
	a.stopJoin = make(chan struct{})
	go func() {
		addrs := a.config.RetryJoin
		for len(addrs) == 0 {
			if addrs = a.serverSerfAddrs(); len(addrs) > 0 {
				break
			}
			select {
			case <-time.After(joinRetryInterval):
			case <-a.stopJoin:
				return
			}
		}
		gossip.RetryJoin(a.serf, addrs, joinRetryInterval, a.stopJoin, a.logger)
	}()
	return nil
}

// serverSerfAddrs asks the servers (through this agent's API) for the
// Serf addresses of the server members.
func (a *Agent) serverSerfAddrs() []string {
	cl, err := api.NewClient(api.Config{Address: a.http.Addr()})
	if err != nil {
		return nil
	}
	members, err := cl.Members()
	if err != nil {
		a.logger.Debug("list server members", "error", err)
		return nil
	}
	var out []string
	for _, m := range members {
		if m.Tags[gossip.TagRole] == gossip.RoleServer && m.Status == "alive" {
			out = append(out, net.JoinHostPort(m.Addr, strconv.Itoa(int(m.Port))))
		}
	}
	return out
}
