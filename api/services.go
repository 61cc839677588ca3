package api

import (
	"net/url"
	"strconv"

	"github.com/mk-orchestrator/mk/structs"
)

// AllNamespaces, as a namespace, lists the objects of every namespace.
const AllNamespaces = "*"

// withNamespace returns q with ?namespace=ns ("" keeps the client's).
func withNamespace(q *QueryOptions, ns string) *QueryOptions {
	opts := &QueryOptions{}
	if q != nil {
		*opts = *q
	}
	if ns == "" {
		return opts
	}
	params := map[string]string{"namespace": ns}
	for k, v := range opts.Params {
		params[k] = v
	}
	opts.Params = params
	return opts
}

// Services lists the services of a namespace ("": the client's, "*": all).
func (c *Client) Services(namespace string, q *QueryOptions) ([]*structs.Service, *QueryMeta, error) {
	var out []*structs.Service
	meta, err := c.get("/v1/services", withNamespace(q, namespace), &out)
	return out, meta, err
}

// Ingresses lists the ingresses of a namespace ("": the client's, "*":
// all).
func (c *Client) Ingresses(namespace string, q *QueryOptions) ([]*structs.Ingress, *QueryMeta, error) {
	var out []*structs.Ingress
	meta, err := c.get("/v1/ingresses", withNamespace(q, namespace), &out)
	return out, meta, err
}

// Service reads one service by name.
func (c *Client) Service(namespace, name string, q *QueryOptions) (*structs.Service, error) {
	var out structs.Service
	if _, err := c.get("/v1/service/"+url.PathEscape(name), withNamespace(q, namespace), &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Endpoints lists every service's endpoints in a namespace ("": the
// client's, "*": all).
func (c *Client) Endpoints(namespace string, q *QueryOptions) ([]*structs.Endpoints, *QueryMeta, error) {
	var out []*structs.Endpoints
	meta, err := c.get("/v1/endpoints", withNamespace(q, namespace), &out)
	return out, meta, err
}

// EndpointsChanges reads the endpoints of a namespace ("*": all) written
// after index since, and the keys of all that exist.
func (c *Client) EndpointsChanges(namespace string, since uint64, q *QueryOptions) (*structs.EndpointsChanges, *QueryMeta, error) {
	opts := withNamespace(q, namespace)
	params := map[string]string{"since": strconv.FormatUint(since, 10)}
	for k, v := range opts.Params {
		params[k] = v
	}
	opts.Params = params
	var out structs.EndpointsChanges
	meta, err := c.get("/v1/endpoints/changes", opts, &out)
	if err != nil {
		return nil, nil, err
	}
	return &out, meta, nil
}

// EndpointsOf reads one service's endpoints.
func (c *Client) EndpointsOf(namespace, service string, q *QueryOptions) (*structs.Endpoints, error) {
	var out structs.Endpoints
	if _, err := c.get("/v1/endpoints/"+url.PathEscape(namespace)+"/"+url.PathEscape(service), q, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
