package testutil

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/mk-orchestrator/mk/api"
	"github.com/mk-orchestrator/mk/structs"
)

// SimNode is a simulated client: it registers a node through the HTTP API,
// heartbeats, watches its pods with blocking queries and reports them
// running (or what Outcome says) without starting any process. Tests and
// the placement benchmark use it to exercise the servers alone.
type SimNode struct {
	Node *structs.Node
	// Outcome decides the phase reported for a pod that should run; nil
	// reports running.
	Outcome func(p *structs.Pod) string
	// Fill, when set, completes the report of a pod reported running:
	// its IP and check results, say (set before Start).
	Fill func(p *structs.Pod, u *structs.PodStatusUpdate)

	client *api.Client
	cancel context.CancelFunc
	done   chan struct{}

	mu       sync.Mutex
	reported map[string]string // pod ID -> phase and health last reported
}

// NewSimNode registers a simulated node with the given drivers and
// resources through addr, and starts its loops.
func NewSimNode(addr, name string, drivers []string, res structs.NodeResources) (*SimNode, error) {
	n, err := NewStoppedSimNode(addr, name, drivers, res)
	if err != nil {
		return nil, err
	}
	return n, n.Start()
}

// NewStoppedSimNode is NewSimNode without registering or starting: set
// Outcome or Fill, then call Start.
func NewStoppedSimNode(addr, name string, drivers []string, res structs.NodeResources) (*SimNode, error) {
	cl, err := api.NewClient(api.Config{Address: addr, HTTPClient: &http.Client{Timeout: 70 * time.Second}})
	if err != nil {
		return nil, err
	}
	node := &structs.Node{
		ObjectMeta: structs.ObjectMeta{ID: uuid.NewString(), Name: name},
		Datacenter: "dc1", Address: "127.0.0.1:0", Resources: &res,
		Drivers:    map[string]*structs.DriverInfo{},
		Attributes: map[string]string{"kernel.name": "linux", "unique.hostname": name},
	}
	for _, d := range drivers {
		node.Drivers[d] = &structs.DriverInfo{Detected: true, Healthy: true}
	}
	return &SimNode{Node: node, client: cl, reported: map[string]string{}}, nil
}

// Start registers the node and starts heartbeating and watching.
func (n *SimNode) Start() error {
	resp, err := n.client.RegisterNode(context.Background(), n.Node)
	if err != nil {
		return fmt.Errorf("register sim node %s: %w", n.Node.Name, err)
	}
	ttl, err := time.ParseDuration(resp.HeartbeatTTL)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	n.cancel, n.done = cancel, make(chan struct{})
	go n.heartbeat(ctx, ttl)
	go n.watch(ctx)
	return nil
}

// Stop stops heartbeating and watching, as a crashed client would.
func (n *SimNode) Stop() {
	if n.cancel != nil {
		n.cancel()
		<-n.done
		n.cancel = nil
	}
}

func (n *SimNode) heartbeat(ctx context.Context, ttl time.Duration) {
	t := time.NewTicker(ttl / 2)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			_, _ = n.client.Heartbeat(ctx, n.Node.ID)
		}
	}
}

func (n *SimNode) watch(ctx context.Context) {
	defer close(n.done)
	var index uint64
	for ctx.Err() == nil {
		pods, meta, err := n.client.NodePods(ctx, n.Node.ID, &api.QueryOptions{WaitIndex: index, WaitTime: 5 * time.Second, Stale: true})
		if err != nil {
			select {
			case <-ctx.Done():
				return
			case <-time.After(100 * time.Millisecond):
			}
			continue
		}
		index = meta.LastIndex
		n.report(ctx, pods)
	}
}

// report acks every pod whose phase should change: running (or Outcome)
// for pods to run, dead for pods to stop.
func (n *SimNode) report(ctx context.Context, pods []*structs.Pod) {
	var updates []*structs.PodStatusUpdate
	n.mu.Lock()
	for _, p := range pods {
		phase := structs.PodPhaseRunning
		if n.Outcome != nil {
			phase = n.Outcome(p)
		}
		if p.DesiredStatus == structs.PodDesiredStop {
			phase = structs.PodPhaseFailed
			if p.Phase == structs.PodPhaseSucceeded || p.Phase == structs.PodPhaseLost {
				continue
			}
		}
		if n.Fill == nil && n.reported[p.ID] == phase+" healthy=false" && p.Phase == phase {
			continue // the common case, without building a report
		}
		states := map[string]*structs.TaskState{}
		for _, t := range p.Template.Tasks {
			st := structs.TaskStateRunning
			if phase != structs.PodPhaseRunning {
				st = structs.TaskStateDead
			}
			states[t.Name] = &structs.TaskState{State: st}
		}
		u := &structs.PodStatusUpdate{Namespace: p.Namespace, PodID: p.ID, Phase: phase, TaskStates: states}
		if n.Fill != nil && phase == structs.PodPhaseRunning {
			n.Fill(p, u)
		}
		// Health is part of what was reported: a Fill that turns a pod
		// healthy later has it reported again.
		key := fmt.Sprintf("%s healthy=%v", phase, u.Healthy)
		if n.reported[p.ID] == key && p.Phase == phase && p.Healthy == u.Healthy {
			continue
		}
		n.reported[p.ID] = key
		updates = append(updates, u)
	}
	n.mu.Unlock()
	for start := 0; start < len(updates); start += 500 {
		end := min(start+500, len(updates))
		_ = n.client.UpdatePodStatus(ctx, n.Node.ID, updates[start:end])
	}
}
