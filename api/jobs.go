package api

import (
	"context"
	"io"
	"net/http"
	"net/url"

	"github.com/mk-orchestrator/mk/structs"
)

// RegisterJob registers a job (POST /v1/jobs).
func (c *Client) RegisterJob(ctx context.Context, body *structs.JobRegisterBody) (*structs.JobRegisterResponse, error) {
	var out structs.JobRegisterResponse
	if _, err := c.do(ctx, http.MethodPost, "/v1/jobs", nil, body, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListJobs lists jobs.
func (c *Client) ListJobs(q *QueryOptions) ([]*structs.JobListStub, *QueryMeta, error) {
	var out []*structs.JobListStub
	meta, err := c.get("/v1/jobs", q, &out)
	return out, meta, err
}

// Job reads one job.
func (c *Client) Job(id string, q *QueryOptions) (*structs.Job, *QueryMeta, error) {
	var out structs.Job
	meta, err := c.get("/v1/job/"+url.PathEscape(id), q, &out)
	if err != nil {
		return nil, nil, err
	}
	return &out, meta, nil
}

// JobVersions lists a job's kept versions, newest first.
func (c *Client) JobVersions(id string, q *QueryOptions) ([]*structs.Job, *QueryMeta, error) {
	var out []*structs.Job
	meta, err := c.get("/v1/job/"+url.PathEscape(id)+"/versions", q, &out)
	return out, meta, err
}

// DeregisterJob stops a job, or purges it.
func (c *Client) DeregisterJob(ctx context.Context, id string, purge bool) (*structs.WriteResult, error) {
	q := &QueryOptions{}
	if purge {
		q.Params = map[string]string{"purge": "true"}
	}
	var out structs.WriteResult
	if _, err := c.do(ctx, http.MethodDelete, "/v1/job/"+url.PathEscape(id), q, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// PlanJob asks what registering job would change.
func (c *Client) PlanJob(ctx context.Context, job *structs.Job) (*structs.JobPlan, error) {
	var out structs.JobPlan
	path := "/v1/job/" + url.PathEscape(job.Name) + "/plan"
	if _, err := c.do(ctx, http.MethodPost, path, nil, &structs.JobPlanBody{Job: job}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ParseJob parses HCL on the server.
func (c *Client) ParseJob(ctx context.Context, body *structs.JobParseBody) (*structs.Job, error) {
	var out structs.Job
	if _, err := c.do(ctx, http.MethodPost, "/v1/jobs/parse", nil, body, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// JobObjects reads every object derived from a job.
func (c *Client) JobObjects(id string, q *QueryOptions) (*structs.JobObjects, error) {
	var out structs.JobObjects
	params := map[string]string{"job": id}
	opts := &QueryOptions{Params: params}
	if q != nil {
		opts.Stale = q.Stale
	}
	lists := []struct {
		path string
		out  any
	}{
		{"/v1/deployments", &out.Deployments},
		{"/v1/replicasets", &out.ReplicaSets},
		{"/v1/services", &out.Services},
		{"/v1/autoscalers", &out.Autoscalers},
		{"/v1/ingresses", &out.Ingresses},
	}
	for _, l := range lists {
		if _, err := c.get(l.path, opts, l.out); err != nil {
			return nil, err
		}
	}
	return &out, nil
}

// StatusLeader returns the leader's Raft address.
func (c *Client) StatusLeader() (string, error) {
	var out string
	_, err := c.get("/v1/status/leader", nil, &out)
	return out, err
}

// StatusPeers returns the Raft peers' addresses.
func (c *Client) StatusPeers() ([]string, error) {
	var out []string
	_, err := c.get("/v1/status/peers", nil, &out)
	return out, err
}

// Members lists the Serf members the agent sees.
func (c *Client) Members() ([]*structs.AgentMember, error) {
	var out []*structs.AgentMember
	_, err := c.get("/v1/agent/members", nil, &out)
	return out, err
}

// RaftConfiguration reads the Raft membership.
func (c *Client) RaftConfiguration(q *QueryOptions) (*structs.RaftConfiguration, error) {
	var out structs.RaftConfiguration
	if _, err := c.get("/v1/operator/raft/configuration", q, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// RemoveRaftPeer removes a server by ID or Raft address.
func (c *Client) RemoveRaftPeer(ctx context.Context, id, address string) error {
	q := &QueryOptions{Params: map[string]string{}}
	if id != "" {
		q.Params["id"] = id
	}
	if address != "" {
		q.Params["address"] = address
	}
	_, err := c.do(ctx, http.MethodDelete, "/v1/operator/raft/peer", q, nil, nil)
	return err
}

// SnapshotSave streams a snapshot of the cluster state into w.
func (c *Client) SnapshotSave(ctx context.Context, w io.Writer) error {
	_, err := c.do(ctx, http.MethodGet, "/v1/operator/snapshot", nil, nil, w)
	return err
}

// SnapshotRestore replaces the cluster state with a snapshot.
func (c *Client) SnapshotRestore(ctx context.Context, r io.Reader) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, c.url("/v1/operator/snapshot", nil), r)
	if err != nil {
		return err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return c.unreachable(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		return c.decodeError(resp)
	}
	return nil
}
