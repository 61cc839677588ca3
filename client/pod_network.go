package client

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/mk-orchestrator/mk/api"
	"github.com/mk-orchestrator/mk/client/network"
	"github.com/mk-orchestrator/mk/client/state"
	"github.com/mk-orchestrator/mk/drivers"
	"github.com/mk-orchestrator/mk/structs"
)

// The pod network on the client (client/network): the node's bridge and
// rules are set up once the servers gave the node its pod CIDR (in the
// register response); a pod of a bridge-mode group gets its namespace,
// address and host ports before its tasks start and loses them when it
// stops; the routes to other nodes' pods follow the node list.

// errNoPodCIDR is why bridge pods fail on a node the servers gave no pod
// CIDR (servers from before pod networking).
var errNoPodCIDR = errors.New("node has no pod CIDR yet")

// bridgeMode reports whether a pod gets a network namespace of its own:
// bridge mode (the default). Host mode, and "none" for now, share the
// node's. A pod whose tasks all run elsewhere (gpu-slurm: on the Slurm
// cluster's nodes) and that declares no network has nothing to put in a
// namespace, and gets none: its start skips the namespace, veth and
// address.
func bridgeMode(p *structs.Pod) bool {
	if p.Template == nil {
		return true
	}
	if p.Template.Network == nil {
		return !remoteTasksOnly(p.Template)
	}
	m := p.Template.Network.Mode
	return m == "" || m == structs.NetworkModeBridge
}

// setupNetwork readies the node's pod network from the register response.
// Without a pod CIDR (or when setup fails) the client still runs host
// pods; bridge pods fail with c.netErr.
func (c *Client) setupNetwork(resp *structs.NodeRegisterResponse) {
	c.netErr = errNoPodCIDR
	if resp.PodCIDR == "" {
		c.logger.Warn("the servers gave this node no pod CIDR: pods in bridge network mode cannot run here")
		return
	}
	cfg := network.Config{NodeID: c.nodeID, PodCIDR: resp.PodCIDR, StateDir: filepath.Join(c.config.DataDir, "netns"),
		Store: c.db, Logger: c.logger}
	if resp.Network != nil {
		cfg.PoolCIDR = resp.Network.PodCIDRPool
	}
	m, err := network.New(cfg)
	if err == nil {
		if err = m.Setup(); err != nil {
			m.Close()
		}
	}
	if err != nil {
		c.netErr = fmt.Errorf("pod network: %w", err)
		c.logger.Error("set up the pod network: pods in bridge network mode cannot run here", "error", err)
		return
	}
	c.net, c.netErr = m, nil
	c.nodeMu.Lock()
	c.node.PodCIDR = resp.PodCIDR
	c.nodeMu.Unlock()
}

// registerAgain registers the node after the servers lost it. A node
// that was purged while its client ran on may come back with another pod
// CIDR (its own went to another node meanwhile): its network stays on
// the old /24, whose addresses are now another node's, so bridge pods are
// refused, with the reason, until the agent restarts and sets up the new
// one. Its old pods are stopped anyway: the servers have none for it.
func (c *Client) registerAgain(ctx context.Context) {
	resp, err := c.register(ctx)
	if err != nil {
		return
	}
	c.nodeMu.Lock()
	old := c.node.PodCIDR
	c.node.PodCIDR = resp.PodCIDR
	c.nodeMu.Unlock()
	if old == "" || old == resp.PodCIDR {
		return
	}
	moved := fmt.Errorf("the servers moved this node from pod CIDR %s to %s (it was purged and %s went to another node): restart the agent to use %s",
		old, resp.PodCIDR, old, resp.PodCIDR)
	c.netMoved.Store(&moved)
	c.logger.Error("pods in bridge network mode cannot run here until the agent restarts", "error", moved)
}

// adoptNetworks keeps the networks of the pods a restarted client
// recovers and removes what is left of the others (kill -9).
func (c *Client) adoptNetworks(recs []*state.PodRecord) {
	if c.net == nil {
		return
	}
	live := map[string]bool{}
	for _, rec := range recs {
		if rec.Pod.DesiredStatus == structs.PodDesiredRun && bridgeMode(rec.Pod) {
			live[rec.Pod.ID] = true
		}
	}
	if err := c.net.Reconcile(live); err != nil {
		c.logger.Error("adopt pod networks", "error", err)
	}
}

// syncRoutes keeps a route to every other ready node's pods, following
// the node list by blocking query; routes are synced again at least every
// routeResync, so one that failed is retried.
func (c *Client) syncRoutes(ctx context.Context) {
	var index uint64
	for ctx.Err() == nil {
		nodes, meta, err := c.api.Nodes(&api.QueryOptions{WaitIndex: index, WaitTime: routeResync, Context: ctx})
		if err != nil {
			if ctx.Err() == nil {
				c.logger.Warn("watch nodes for pod routes failed; retrying", "error", err)
				index = 0
				select {
				case <-ctx.Done():
				case <-time.After(time.Second):
				}
			}
			continue
		}
		index = meta.LastIndex
		if err := c.net.SyncRoutes(nodes); err != nil {
			c.logger.Warn("sync routes to other nodes' pods", "error", err)
		}
	}
}

// routeResync bounds how long a route that failed waits for a retry.
const routeResync = 30 * time.Second

// createNetwork gives the runner's pod its network, for a bridge pod.
func (r *podRunner) createNetwork() error {
	if !bridgeMode(r.pod) {
		return nil
	}
	if moved := r.c.netMoved.Load(); moved != nil {
		return *moved
	}
	if r.c.net == nil {
		return r.c.netErr
	}
	req := &network.PodRequest{ID: r.pod.ID, Namespace: r.pod.Namespace, Ports: r.pod.Ports,
		ResolvConfPath: filepath.Join(r.dir, "resolv.conf")}
	if nd := r.c.sandboxDriver(r.pod); nd != nil {
		// The driver's sandbox (docker: the pause container) holds the
		// namespace; it is plumbed like any other.
		ctx, cancel := context.WithTimeout(r.ctx, sandboxTimeout)
		spec, err := nd.CreateNetwork(ctx, &drivers.NetworkRequest{PodID: r.pod.ID, NodeID: r.c.nodeID, JobID: r.pod.JobID,
			Images: sandboxImages(r.pod)})
		cancel()
		if err != nil {
			r.c.kickFingerprint()
			return err
		}
		req.NetNSFrom = spec.NetNSPath
	}
	pn, err := r.c.net.CreatePod(req)
	if err != nil {
		return err
	}
	r.mu.Lock()
	r.net = pn
	r.mu.Unlock()
	return nil
}

// destroyNetwork removes the pod's network (its tasks are stopped).
func (c *Client) destroyNetwork(p *structs.Pod) {
	if c.net == nil || !bridgeMode(p) {
		return
	}
	if err := c.net.DestroyPod(p.ID); err != nil {
		c.logger.Error("remove pod network", "pod", p.ID, "error", err)
	}
	if nd := c.sandboxDriver(p); nd != nil {
		ctx, cancel := context.WithTimeout(context.Background(), sandboxTimeout)
		defer cancel()
		if err := nd.DestroyNetwork(ctx, p.ID); err != nil {
			c.logger.Error("remove pod sandbox", "pod", p.ID, "error", err)
		}
	}
}

// sandboxTimeout bounds making or removing a pod's sandbox (a pause
// container, whose image may be built first).
const sandboxTimeout = 2 * time.Minute

// sandboxDriver is the driver that owns the pod's network namespace, nil
// when the client makes it: docker, for a pod with a docker task.
func (c *Client) sandboxDriver(p *structs.Pod) drivers.NetworkDriver {
	if p.Template == nil {
		return nil
	}
	for _, t := range p.Template.Tasks {
		if t == nil || t.Driver != structs.DriverDocker {
			continue
		}
		d, ok := c.driver(t.Driver)
		if !ok {
			return nil
		}
		nd, _ := d.(drivers.NetworkDriver)
		return nd
	}
	return nil
}

// sandboxImages are the images of the pod's docker tasks, which the
// driver gets ready while the pause container starts.
func sandboxImages(p *structs.Pod) []drivers.ImageRef {
	var out []drivers.ImageRef
	for _, t := range p.Template.Tasks {
		if t != nil && t.Driver == structs.DriverDocker && t.Config != nil && t.Config.Image != "" {
			out = append(out, drivers.ImageRef{Image: t.Config.Image, Pull: t.Config.Pull})
		}
	}
	return out
}

// podIP is the pod's own address, "" for a pod in the node's network.
func (r *podRunner) podIP() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.net == nil {
		return ""
	}
	return r.net.IP.String()
}

// remoteTasksOnly reports whether every task of a group runs off the
// node (driver gpu-slurm).
func remoteTasksOnly(g *structs.TaskGroup) bool {
	for _, t := range g.Tasks {
		if t == nil || t.Driver != structs.DriverGPUSlurm {
			return false
		}
	}
	return len(g.Tasks) > 0
}
