package api

import (
	"context"
	"net/http"
	"net/url"

	"github.com/mk-orchestrator/mk/structs"
)

// PodExec runs a command in a running task of a pod (ID or unique prefix)
// and returns its output and exit code; a non-zero exit is a result, not
// an error. The node that runs the pod answers; servers forward the
// request there.
func (c *Client) PodExec(ctx context.Context, ref string, body *structs.PodExecBody) (*structs.PodExecResult, error) {
	var out structs.PodExecResult
	if _, err := c.do(ctx, http.MethodPost, "/v1/pod/"+url.PathEscape(ref)+"/exec", nil, body, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// PodStats samples the resource use of a pod's tasks, next to their
// limits. A pod without a running task is an error (409).
func (c *Client) PodStats(ctx context.Context, ref string) (*structs.PodStats, error) {
	var out structs.PodStats
	if _, err := c.do(ctx, http.MethodGet, "/v1/pod/"+url.PathEscape(ref)+"/stats", nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
