// Package client is the mk client: it fingerprints its node, registers it
// through the servers, heartbeats, watches the pods placed on it with a
// blocking query, runs them through driver plugins and reports their state.
package client

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	hclog "github.com/hashicorp/go-hclog"

	"github.com/mk-orchestrator/mk/api"
	nodedns "github.com/mk-orchestrator/mk/client/dns"
	"github.com/mk-orchestrator/mk/client/ingress"
	"github.com/mk-orchestrator/mk/client/network"
	"github.com/mk-orchestrator/mk/client/proxy"
	"github.com/mk-orchestrator/mk/client/state"
	"github.com/mk-orchestrator/mk/drivers"
	"github.com/mk-orchestrator/mk/structs"
)

// Config configures a client.
type Config struct {
	NodeName   string
	Datacenter string
	// DataDir holds the local state and the pods' directories.
	DataDir string
	// Server is the HTTP address of a server (or of the local agent, which
	// forwards to the leader).
	Server string
	// Address is this client's HTTP address, where servers reach it.
	Address string
	// Drivers are the drivers this client runs tasks with, by name.
	Drivers map[string]drivers.Driver
	// DynamicPorts are the lowest and highest node port the scheduler
	// may give dynamic ports here; zeros for the default range.
	DynamicPorts [2]int
	// StatusWindow is how long pod reports are batched (a few ms).
	StatusWindow time.Duration
	// NetworkAddress is the node's address that other nodes route its
	// pods' subnet to ("" when it has none).
	NetworkAddress string
	// ProxyMode is the service proxy's backend (iptables, nftables).
	ProxyMode string
	// FingerprintInterval is how often the drivers are fingerprinted
	// again after start (default 15s); a change of a driver's health or
	// attributes updates the node through the servers.
	FingerprintInterval time.Duration
	// StatsInterval is how often the resource use of pods with a scaling
	// block is sampled and reported to the autoscaler (default 5s).
	StatsInterval time.Duration
	// DNSUpstreams are the resolvers (host:port) the node DNS forwards
	// other names to; nil for the host's /etc/resolv.conf.
	DNSUpstreams []string
	// IngressAddr is where the ingress proxy listens (host:port, ":8080"
	// for every address); "" runs none.
	IngressAddr string
	Logger      hclog.Logger
}

// Client runs the pods of one node.
type Client struct {
	config *Config
	logger hclog.Logger
	db     *state.DB
	api    *api.Client
	status *statusBatcher
	nodeID string

	// nodeMu guards node, which the driver watch replaces while the
	// heartbeat may register it again.
	nodeMu sync.Mutex
	node   *structs.Node
	// localGPUs is how many GPUs nvidia-smi found, set by the first
	// fingerprint.
	localGPUs int
	// fingerprintKick asks the driver watch to fingerprint at once (a
	// driver call failed).
	fingerprintKick chan struct{}

	cancel context.CancelFunc
	wg     sync.WaitGroup

	// net is the node's pod network, nil while the servers gave the node
	// no pod CIDR (netErr says why bridge pods cannot run).
	net    *network.Manager
	netErr error
	// netMoved, once set, is why bridge pods are refused: the servers
	// moved the node to another pod CIDR while it ran (registerAgain).
	netMoved atomic.Pointer[error]
	// proxy programs service virtual IPs through proxyWriter; dns answers
	// service and pod names on the pod gateway. Nil without a network.
	proxy       *proxy.Proxy
	proxyWriter proxy.Writer
	dns         *nodedns.Server
	// ingress routes HTTP by host and path to services' endpoints; nil
	// without a network or an IngressAddr.
	ingress *ingress.Proxy

	mu      sync.Mutex
	runners map[string]*podRunner
	// stopped are the pods whose runner stopped and that the servers
	// still list for this node: once they are collected (gone from the
	// list), what they left here is removed.
	stopped map[string]*structs.Pod
}

// New opens the client's local state; Start runs it.
func New(config *Config) (*Client, error) {
	db, err := state.Open(config.DataDir)
	if err != nil {
		return nil, err
	}
	if err := prepareDataDir(config.DataDir); err != nil {
		db.Close()
		return nil, err
	}
	cl, err := api.NewClient(api.Config{Address: config.Server, HTTPClient: &http.Client{Timeout: 6 * time.Minute}})
	if err != nil {
		db.Close()
		return nil, err
	}
	if config.StatusWindow == 0 {
		config.StatusWindow = 5 * time.Millisecond
	}
	if config.FingerprintInterval <= 0 {
		config.FingerprintInterval = defaultFingerprintInterval
	}
	if config.StatsInterval <= 0 {
		config.StatsInterval = defaultStatsInterval
	}
	c := &Client{config: config, logger: config.Logger.Named("client"), db: db, api: cl, runners: map[string]*podRunner{},
		stopped: map[string]*structs.Pod{}, fingerprintKick: make(chan struct{}, 1)}
	c.status = newStatusBatcher(c, config.StatusWindow)
	if c.nodeID, err = db.NodeID(); err != nil {
		db.Close()
		return nil, err
	}
	if c.nodeID == "" {
		c.nodeID = uuid.NewString()
		if err := db.SetNodeID(c.nodeID); err != nil {
			db.Close()
			return nil, err
		}
	}
	return c, nil
}

// NodeID is this client's node ID, kept across restarts.
func (c *Client) NodeID() string { return c.nodeID }

// Start reattaches to the pods of the local state, registers the node and
// starts heartbeating and watching. It returns once the node is registered.
func (c *Client) Start(ctx context.Context) error {
	c.setNode(c.fingerprint(ctx))
	resp, err := c.register(ctx)
	if err != nil {
		return err
	}
	ttl, err := time.ParseDuration(resp.HeartbeatTTL)
	if err != nil {
		return fmt.Errorf("register node: heartbeat TTL %q: %w", resp.HeartbeatTTL, err)
	}
	c.setupNetwork(resp)
	runCtx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	c.recoverPods()
	if c.net != nil {
		c.goFunc(func() { c.syncRoutes(runCtx) })
		if err := c.startServices(runCtx, *resp.Network); err != nil {
			c.logger.Error("services will not answer on this node", "error", err)
		}
	}
	c.goFunc(func() { c.reconcileDrivers(runCtx) })
	c.goFunc(func() { c.watchDrivers(runCtx) })
	c.goFunc(func() { c.status.run(runCtx) })
	c.goFunc(func() { c.heartbeat(runCtx, ttl) })
	c.goFunc(func() { c.reportUsage(runCtx) })
	c.goFunc(func() { c.watch(runCtx) })
	c.logger.Info("client started", "node", c.config.NodeName, "id", c.nodeID)
	return nil
}

func (c *Client) goFunc(fn func()) {
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		fn()
	}()
}

// register registers the node, retrying until a server answers or ctx ends.
func (c *Client) register(ctx context.Context) (*structs.NodeRegisterResponse, error) {
	for {
		resp, err := c.api.RegisterNode(ctx, c.currentNode())
		if err == nil {
			return resp, nil
		}
		c.logger.Warn("register node failed; retrying", "error", err)
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("register node: %w", err)
		case <-time.After(time.Second):
		}
	}
}

func (c *Client) heartbeat(ctx context.Context, ttl time.Duration) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(ttl / 2):
		}
		if _, err := c.api.Heartbeat(ctx, c.nodeID); err != nil {
			var apiErr *api.Error
			if ok := asAPIError(err, &apiErr); ok && apiErr.StatusCode == http.StatusNotFound {
				c.registerAgain(ctx) // the servers lost the node (a purge, a restore)
				continue
			}
			c.logger.Warn("heartbeat failed", "error", err)
		}
	}
}

// watch follows the pods placed on this node and reconciles the runners.
func (c *Client) watch(ctx context.Context) {
	var index uint64
	for ctx.Err() == nil {
		pods, meta, err := c.api.NodePods(ctx, c.nodeID, &api.QueryOptions{WaitIndex: index, WaitTime: 5 * time.Minute})
		if err != nil {
			if ctx.Err() == nil {
				c.logger.Warn("watch pods failed; retrying", "error", err)
				select {
				case <-ctx.Done():
				case <-time.After(time.Second):
				}
			}
			continue
		}
		index = meta.LastIndex
		c.reconcile(ctx, pods)
	}
}

// reconcile starts runners for pods to run and stops those of pods to stop
// (or that are gone).
func (c *Client) reconcile(ctx context.Context, pods []*structs.Pod) {
	seen := map[string]bool{}
	for _, p := range pods {
		seen[p.ID] = true
		c.mu.Lock()
		r, running := c.runners[p.ID]
		c.mu.Unlock()
		switch {
		case p.DesiredStatus == structs.PodDesiredRun && !running && !p.Terminal():
			c.startRunner(p, nil, false)
		case p.DesiredStatus == structs.PodDesiredStop && running && r.stopRequested.CompareAndSwap(false, true):
			go c.stopRunnerAfter(ctx, p.ID, r, shutdownDelay(p.Template))
		}
	}
	c.mu.Lock()
	for id, r := range c.runners {
		if !seen[id] {
			go c.collectPod(id, r)
		}
	}
	for id, p := range c.stopped {
		if !seen[id] {
			delete(c.stopped, id)
			go c.removePod(p)
		}
	}
	c.mu.Unlock()
}

func (c *Client) startRunner(p *structs.Pod, rec *state.PodRecord, recover bool) {
	r := newPodRunner(c, p, rec)
	c.mu.Lock()
	c.runners[p.ID] = r
	c.mu.Unlock()
	go r.run(recover)
}

// stopRunnerAfter stops a pod the servers stopped once its group's
// shutdown_delay has passed: the servers took it out of every node's
// endpoints before they stopped it, and the delay lets requests already
// on their way finish. A client that shuts down meanwhile leaves it.
func (c *Client) stopRunnerAfter(ctx context.Context, id string, r *podRunner, delay time.Duration) {
	if delay > 0 {
		t := time.NewTimer(delay)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
	c.stopRunner(id, r)
}

// shutdownDelay is a group's shutdown_delay (0 when unset or bad).
func shutdownDelay(g *structs.TaskGroup) time.Duration {
	if g == nil {
		return 0
	}
	d, _ := structs.ParseDuration(g.ShutdownDelay)
	return d
}

// stopRunner stops a pod the servers stopped; its files stay until the
// servers collect the pod.
func (c *Client) stopRunner(id string, r *podRunner) {
	r.stop()
	c.mu.Lock()
	if c.runners[id] == r {
		delete(c.runners, id)
		c.stopped[id] = r.pod
	}
	c.mu.Unlock()
}

// recoverPods reattaches to the tasks of the pods in the local state: a
// restarted client keeps its running tasks (same PIDs) and restart counts.
func (c *Client) recoverPods() {
	recs, err := c.db.Pods()
	if err != nil {
		c.logger.Error("read local pods", "error", err)
		return
	}
	c.adoptNetworks(recs)
	for _, rec := range recs {
		if rec.Pod.DesiredStatus != structs.PodDesiredRun {
			continue
		}
		c.logger.Info("recovering pod", "pod", rec.Pod.Name)
		c.startRunner(rec.Pod, rec, true)
	}
}

func (c *Client) driver(name string) (drivers.Driver, bool) {
	d, ok := c.config.Drivers[name]
	return d, ok
}

// isBatch reports whether a pod belongs to a batch job: its tasks run to
// completion instead of being restarted after they succeed.
func (c *Client) isBatch(p *structs.Pod) bool {
	return p.Labels[structs.LabelJobType] == structs.JobTypeBatch
}

func asAPIError(err error, target **api.Error) bool { return errors.As(err, target) }

// Destroy stops every pod this client runs, then shuts it down. Dev agents
// use it: their data dir goes with them, so nothing could reattach later.
func (c *Client) Destroy() {
	// Stop watching first, so no new pod starts while the others stop.
	if c.cancel != nil {
		c.cancel()
		c.wg.Wait()
	}
	c.mu.Lock()
	runners := make(map[string]*podRunner, len(c.runners))
	for id, r := range c.runners {
		runners[id] = r
	}
	c.mu.Unlock()
	var wg sync.WaitGroup
	for id, r := range runners {
		wg.Add(1)
		go func(id string, r *podRunner) {
			defer wg.Done()
			c.stopRunner(id, r)
		}(id, r)
	}
	wg.Wait()
	c.status.flush(context.Background())
	c.stopServices()
	c.removeServiceRules()
	if c.net != nil {
		if err := c.net.Teardown(); err != nil {
			c.logger.Warn("tear down pod network", "error", err)
		}
		c.net.Close()
	}
	c.db.Close()
}

// Shutdown stops the client's loops and detaches from its tasks without
// stopping them: a client that restarts reattaches to them.
func (c *Client) Shutdown() {
	if c.cancel != nil {
		c.cancel()
	}
	c.wg.Wait()
	c.mu.Lock()
	runners := make([]*podRunner, 0, len(c.runners))
	for _, r := range c.runners {
		runners = append(runners, r)
	}
	c.mu.Unlock()
	for _, r := range runners {
		r.detach()
	}
	c.stopServices()
	if c.net != nil {
		c.net.Close() // pods' networks stay for the next client to adopt
	}
	c.db.Close()
}
