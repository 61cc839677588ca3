package api

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strconv"

	"github.com/mk-orchestrator/mk/structs"
)

// Nodes lists the nodes.
func (c *Client) Nodes(q *QueryOptions) ([]*structs.Node, *QueryMeta, error) {
	var out []*structs.Node
	meta, err := c.get("/v1/nodes", q, &out)
	return out, meta, err
}

// Node reads one node by ID, unique ID prefix or name.
func (c *Client) Node(ref string, q *QueryOptions) (*structs.Node, error) {
	var out structs.Node
	if _, err := c.get("/v1/node/"+url.PathEscape(ref), q, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// RegisterNode registers a client's node.
func (c *Client) RegisterNode(ctx context.Context, node *structs.Node) (*structs.NodeRegisterResponse, error) {
	var out structs.NodeRegisterResponse
	if _, err := c.do(ctx, http.MethodPut, "/v1/node/register", nil, &structs.NodeRegisterBody{Node: node}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Heartbeat tells the servers a node is alive.
func (c *Client) Heartbeat(ctx context.Context, nodeID string) (*structs.NodeRegisterResponse, error) {
	var out structs.NodeRegisterResponse
	if _, err := c.do(ctx, http.MethodPut, "/v1/node/"+url.PathEscape(nodeID)+"/heartbeat", nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// NodePods reads (or, with WaitIndex, watches) the pods placed on a node.
func (c *Client) NodePods(ctx context.Context, nodeID string, q *QueryOptions) ([]*structs.Pod, *QueryMeta, error) {
	var out []*structs.Pod
	meta, err := c.do(ctx, http.MethodGet, "/v1/node/"+url.PathEscape(nodeID)+"/pods", q, nil, &out)
	return out, meta, err
}

// UpdatePodStatus reports a batch of a node's pod states.
func (c *Client) UpdatePodStatus(ctx context.Context, nodeID string, updates []*structs.PodStatusUpdate) error {
	_, err := c.do(ctx, http.MethodPut, "/v1/node/"+url.PathEscape(nodeID)+"/pods/status", nil, &structs.PodStatusBody{Updates: updates}, nil)
	return err
}

// EndpointsSynced reports that a node's proxy programmed the endpoints
// as of index.
func (c *Client) EndpointsSynced(ctx context.Context, nodeID string, index uint64) error {
	_, err := c.do(ctx, http.MethodPut, "/v1/node/"+url.PathEscape(nodeID)+"/endpoints-synced", nil, &structs.EndpointsSyncedBody{Index: index}, nil)
	return err
}

// DrainNode enables or disables a node's drain.
func (c *Client) DrainNode(ctx context.Context, ref string, enable bool) error {
	_, err := c.do(ctx, http.MethodPost, "/v1/node/"+url.PathEscape(ref)+"/drain", nil, &structs.NodeDrainBody{Enable: enable}, nil)
	return err
}

// PurgeNode removes a node that is not ready: its pod subnet goes back to
// the pool and its pods are replaced elsewhere.
func (c *Client) PurgeNode(ctx context.Context, ref string) error {
	_, err := c.do(ctx, http.MethodPut, "/v1/node/"+url.PathEscape(ref)+"/purge", nil, nil, nil)
	return err
}

// SetNodeEligibility makes a node eligible or ineligible for new pods.
func (c *Client) SetNodeEligibility(ctx context.Context, ref string, eligible bool) error {
	_, err := c.do(ctx, http.MethodPost, "/v1/node/"+url.PathEscape(ref)+"/eligibility", nil, &structs.NodeEligibilityBody{Eligible: eligible}, nil)
	return err
}

// Pods lists pods, all or of one job.
func (c *Client) Pods(job string, q *QueryOptions) ([]*structs.Pod, *QueryMeta, error) {
	return c.PodsWith(PodFilter{Job: job}, q)
}

// PodFilter selects the pods PodsWith lists; the zero value selects all.
type PodFilter struct {
	Job string
	// Node is a node's name, ID or ID prefix.
	Node string
	// Phase is a pod phase (pending, running, succeeded, failed, lost).
	Phase string
	// Recent hides terminal pods that last changed more than half the
	// servers' pod_gc_threshold ago.
	Recent bool
}

// PodsWith lists the pods of the namespace that f selects.
func (c *Client) PodsWith(f PodFilter, q *QueryOptions) ([]*structs.Pod, *QueryMeta, error) {
	opts := &QueryOptions{}
	if q != nil {
		*opts = *q
	}
	params := map[string]string{}
	for k, v := range opts.Params {
		params[k] = v
	}
	for k, v := range map[string]string{"job": f.Job, "node": f.Node, "status": f.Phase} {
		if v != "" {
			params[k] = v
		}
	}
	if f.Recent {
		params["recent"] = "true"
	}
	opts.Params = params
	var out []*structs.Pod
	meta, err := c.get("/v1/pods", opts, &out)
	return out, meta, err
}

// SystemGC makes the leader collect garbage now: every terminal pod the
// servers stopped, whatever its age, and old replica sets.
func (c *Client) SystemGC(ctx context.Context) error {
	_, err := c.do(ctx, http.MethodPut, "/v1/system/gc", nil, nil, nil)
	return err
}

// Pod reads one pod by ID or unique ID prefix.
func (c *Client) Pod(ref string, q *QueryOptions) (*structs.Pod, error) {
	var out structs.Pod
	if _, err := c.get("/v1/pod/"+url.PathEscape(ref), q, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// StopPod stops a pod; its owner replaces it when it should run.
func (c *Client) StopPod(ctx context.Context, ref string) error {
	_, err := c.do(ctx, http.MethodPost, "/v1/pod/"+url.PathEscape(ref)+"/stop", nil, nil, nil)
	return err
}

// PodLogs streams a task's log into w (stdout, or stderr); with follow it
// streams until ctx ends.
func (c *Client) PodLogs(ctx context.Context, ref, task string, stderr, follow bool, w io.Writer) error {
	return c.PodLogsWith(ctx, ref, LogOptions{Task: task, Stderr: stderr, Follow: follow}, w)
}

// LogOptions say which log PodLogsWith streams and from where.
type LogOptions struct {
	// Task is the pod's task; needed when it has several.
	Task string
	// Stderr streams the stderr log instead of stdout.
	Stderr bool
	// Follow keeps streaming what the task writes until ctx ends.
	Follow bool
	// Tail > 0 starts at the last Tail lines instead of the start.
	Tail int
}

// PodLogsWith streams a task's log into w as opts say.
func (c *Client) PodLogsWith(ctx context.Context, ref string, opts LogOptions, w io.Writer) error {
	q := &QueryOptions{Params: map[string]string{"type": "stdout"}}
	if opts.Stderr {
		q.Params["type"] = "stderr"
	}
	if opts.Task != "" {
		q.Params["task"] = opts.Task
	}
	if opts.Follow {
		q.Params["follow"] = "true"
	}
	if opts.Tail > 0 {
		q.Params["tail"] = strconv.Itoa(opts.Tail)
	}
	_, err := c.do(ctx, http.MethodGet, "/v1/pod/"+url.PathEscape(ref)+"/logs", q, nil, w)
	return err
}
