package api

import (
	"context"
	"net/http"
	"net/url"

	"github.com/mk-orchestrator/mk/structs"
)

// ScaleJob sets the count of a service group of a job (PUT
// /v1/job/{id}/scale): a new count, not a new version.
func (c *Client) ScaleJob(ctx context.Context, id, group string, count int, message string) (*structs.JobScaleResponse, error) {
	var out structs.JobScaleResponse
	body := &structs.JobScaleBody{Group: group, Count: &count, Message: message}
	if _, err := c.do(ctx, http.MethodPut, "/v1/job/"+url.PathEscape(id)+"/scale", nil, body, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ReportPodUsage sends samples of a node's pods' resource use to the
// leader's autoscaler (PUT /v1/node/{id}/pods/usage).
func (c *Client) ReportPodUsage(ctx context.Context, nodeID string, body *structs.PodUsageBody) error {
	_, err := c.do(ctx, http.MethodPut, "/v1/node/"+url.PathEscape(nodeID)+"/pods/usage", nil, body, nil)
	return err
}
