// Package api is a Go client for mk's HTTP API, used by the CLI, the tests
// and the benchmarks.
package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/mk-orchestrator/mk/structs"
)

// DefaultAddress is the API address when neither -address nor MK_ADDR is
// given.
const DefaultAddress = "http://127.0.0.1:6646"

// Client talks to one agent's HTTP API.
type Client struct {
	address   string
	namespace string
	http      *http.Client
}

// Config configures a client.
type Config struct {
	// Address is the agent's API URL; default MK_ADDR or DefaultAddress.
	Address string
	// Namespace is sent with every request; default MK_NAMESPACE or
	// "default".
	Namespace  string
	HTTPClient *http.Client
}

// NewClient returns a client for the configured agent.
func NewClient(c Config) (*Client, error) {
	if c.Address == "" {
		c.Address = os.Getenv("MK_ADDR")
	}
	if c.Address == "" {
		c.Address = DefaultAddress
	}
	if !strings.Contains(c.Address, "://") {
		c.Address = "http://" + c.Address
	}
	u, err := url.Parse(c.Address)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("invalid address %q: want http://host:port", c.Address)
	}
	if c.Namespace == "" {
		c.Namespace = os.Getenv("MK_NAMESPACE")
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 128, IdleConnTimeout: 90 * time.Second}}
	}
	return &Client{address: strings.TrimRight(c.Address, "/"), namespace: c.Namespace, http: c.HTTPClient}, nil
}

// Address returns the agent address the client talks to.
func (c *Client) Address() string { return c.address }

// QueryOptions are the read parameters every GET accepts.
type QueryOptions struct {
	// WaitIndex blocks until the result's index passes it.
	WaitIndex uint64
	WaitTime  time.Duration
	// Stale reads from the receiving server without asking the leader.
	Stale  bool
	Params map[string]string
	// Context, when set, cancels the read (a blocking one included).
	Context context.Context
	// Msgpack asks for the answer in msgpack rather than JSON: agents'
	// watches of every service and endpoint decode several times faster.
	Msgpack bool
}

// QueryMeta is what a read returns besides its body.
type QueryMeta struct {
	LastIndex uint64
}

func (c *Client) url(path string, q *QueryOptions) string {
	v := url.Values{}
	if c.namespace != "" {
		v.Set("namespace", c.namespace)
	}
	if q != nil {
		if q.WaitIndex > 0 {
			v.Set("index", strconv.FormatUint(q.WaitIndex, 10))
		}
		if q.WaitTime > 0 {
			v.Set("wait", q.WaitTime.String())
		}
		if q.Stale {
			v.Set("stale", "")
		}
		for k, val := range q.Params {
			v.Set(k, val)
		}
	}
	if len(v) == 0 {
		return c.address + path
	}
	return c.address + path + "?" + v.Encode()
}

// do sends a request with an optional JSON body and decodes a JSON answer
// into out (when not nil).
func (c *Client) do(ctx context.Context, method, path string, q *QueryOptions, in, out any) (*QueryMeta, error) {
	var body io.Reader
	if in != nil {
		buf, err := json.Marshal(in)
		if err != nil {
			return nil, err
		}
		body = bytes.NewReader(buf)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.url(path, q), body)
	if err != nil {
		return nil, err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if q != nil && q.Msgpack {
		req.Header.Set("Accept", structs.ContentTypeMsgpack)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, c.unreachable(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		return nil, c.decodeError(resp)
	}
	meta := &QueryMeta{}
	meta.LastIndex, _ = strconv.ParseUint(resp.Header.Get("X-Mk-Index"), 10, 64)
	if out == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		return meta, nil
	}
	if w, ok := out.(io.Writer); ok {
		_, err = io.Copy(w, resp.Body)
		return meta, err
	}
	if err := decodeAnswer(resp, out); err != nil {
		return nil, fmt.Errorf("decode %s %s: %w", method, path, err)
	}
	return meta, nil
}

// decodeAnswer decodes a body by its content type: msgpack when asked
// for and given, JSON otherwise.
func decodeAnswer(resp *http.Response, out any) error {
	if resp.Header.Get("Content-Type") != structs.ContentTypeMsgpack {
		return json.NewDecoder(resp.Body).Decode(out)
	}
	// Read whole, then decoded in place: twice as fast as decoding from
	// the stream.
	buf, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	return structs.Decode(buf, out)
}

// decodeError reads mk's JSON error body; a reply without one is a
// *NotAgentError (wrapping the *Error).
func (c *Client) decodeError(resp *http.Response) error {
	e := &Error{StatusCode: resp.StatusCode, RetryAfter: resp.Header.Get("Retry-After")}
	buf, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if json.Unmarshal(buf, e) != nil || e.Message == "" {
		e.Message = fmt.Sprintf("%s: %s", statusText(resp), strings.TrimSpace(string(buf)))
		return &NotAgentError{Address: c.address, Status: resp.StatusCode, API: e}
	}
	return e
}

// get is a GET decoding into out.
func (c *Client) get(path string, q *QueryOptions, out any) (*QueryMeta, error) {
	ctx := context.Background()
	if q != nil && q.Context != nil {
		ctx = q.Context
	}
	return c.do(ctx, http.MethodGet, path, q, nil, out)
}

// Raw sends any request; tests use it for paths without a helper.
func (c *Client) Raw(ctx context.Context, method, path string, q *QueryOptions, in, out any) (*QueryMeta, error) {
	return c.do(ctx, method, path, q, in, out)
}
