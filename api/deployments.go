package api

import (
	"context"
	"net/http"
	"net/url"

	"github.com/mk-orchestrator/mk/structs"
)

// JobDeployments reads (or, with WaitIndex, watches) the progress of a
// job's deployments.
func (c *Client) JobDeployments(id string, q *QueryOptions) ([]*structs.DeploymentProgress, *QueryMeta, error) {
	var out []*structs.DeploymentProgress
	meta, err := c.get("/v1/job/"+url.PathEscape(id)+"/deployments", q, &out)
	return out, meta, err
}

// RevertJob registers an older version of a job as its newest.
func (c *Client) RevertJob(ctx context.Context, id string, body *structs.JobRevertBody) (*structs.JobRegisterResponse, error) {
	var out structs.JobRegisterResponse
	if _, err := c.do(ctx, http.MethodPost, "/v1/job/"+url.PathEscape(id)+"/revert", nil, body, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// PromoteJob promotes the canaries of a job's deployments.
func (c *Client) PromoteJob(ctx context.Context, id string) (*structs.WriteResult, error) {
	var out structs.WriteResult
	if _, err := c.do(ctx, http.MethodPost, "/v1/job/"+url.PathEscape(id)+"/promote", nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
