package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptrace"
	"strings"
	"testing"
	"time"

	"github.com/mk-orchestrator/mk/api"
	"github.com/mk-orchestrator/mk/structs"
	"github.com/mk-orchestrator/mk/testutil"
)

// TestEndpointsChanges: the leader keeps a row of endpoints per service
// (empty while no pod runs); /v1/endpoints/changes?since=N sends only the
// rows written after N with the keys of all, and a stopped job's row goes.
func TestEndpointsChanges(t *testing.T) {
	c := testutil.NewCluster(t, 1, testutil.ClusterOptions{})
	cl := newClient(t, c.Nodes[0])
	ctx := context.Background()
	keys := func(ch *structs.EndpointsChanges) (changed, all []string) {
		for _, e := range ch.Changed {
			changed = append(changed, e.ID)
		}
		for _, k := range ch.Keys {
			all = append(all, k.ID)
		}
		return changed, all
	}
	waitRows := func(want int) uint64 {
		var index uint64
		testutil.WaitFor(t, 10*time.Second, func() (bool, error) {
			ch, meta, err := cl.EndpointsChanges(api.AllNamespaces, 0, nil)
			if err != nil {
				return false, err
			}
			index = meta.LastIndex
			return len(ch.Keys) == want, fmt.Errorf("%d endpoints rows, want %d", len(ch.Keys), want)
		})
		return index
	}
	if _, err := cl.RegisterJob(ctx, &structs.JobRegisterBody{Job: job("a")}); err != nil {
		t.Fatal(err)
	}
	first := waitRows(1)
	if _, err := cl.RegisterJob(ctx, &structs.JobRegisterBody{Job: job("b")}); err != nil {
		t.Fatal(err)
	}
	waitRows(2)
	ch, _, err := cl.EndpointsChanges(api.AllNamespaces, first, nil)
	if err != nil {
		t.Fatal(err)
	}
	if changed, all := keys(ch); fmt.Sprint(changed) != "[b-svc]" || fmt.Sprint(all) != "[a-svc b-svc]" {
		t.Fatalf("changes since %d: changed %v, keys %v; want [b-svc], [a-svc b-svc]", first, changed, all)
	}
	if _, err := cl.DeregisterJob(ctx, "a", false); err != nil {
		t.Fatal(err)
	}
	waitRows(1)
	if code, _, body := rawRequest(t, "GET", c.Nodes[0].Addr()+"/v1/endpoints/changes?since=x", ""); code != 400 {
		t.Fatalf("since=x: %d %s, want 400", code, body)
	}
}

// TestWatchAnswersInMsgpack: agents' watches ask for msgpack; the answer
// decodes to what the JSON answer does, and a request that does not ask
// still gets JSON.
func TestWatchAnswersInMsgpack(t *testing.T) {
	c := testutil.NewCluster(t, 1, testutil.ClusterOptions{})
	cl := newClient(t, c.Nodes[0])
	if _, err := cl.RegisterJob(context.Background(), &structs.JobRegisterBody{Job: job("a")}); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 10*time.Second, func() (bool, error) {
		ch, _, err := cl.EndpointsChanges(api.AllNamespaces, 0, nil)
		if err != nil {
			return false, err
		}
		return len(ch.Changed) == 1, fmt.Errorf("%d endpoints rows, want 1", len(ch.Changed))
	})
	for _, tc := range []struct {
		name string
		read func(q *api.QueryOptions) (any, error)
	}{
		{"services", func(q *api.QueryOptions) (any, error) {
			l, _, err := cl.Services(api.AllNamespaces, q)
			return l, err
		}},
		{"endpoints changes", func(q *api.QueryOptions) (any, error) {
			ch, _, err := cl.EndpointsChanges(api.AllNamespaces, 0, q)
			return ch, err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			viaJSON, err := tc.read(&api.QueryOptions{})
			if err != nil {
				t.Fatal(err)
			}
			viaMsgpack, err := tc.read(&api.QueryOptions{Msgpack: true})
			if err != nil {
				t.Fatal(err)
			}
			if a, b := mustJSON(t, viaJSON), mustJSON(t, viaMsgpack); a != b {
				t.Fatalf("msgpack answer differs:\njson    %s\nmsgpack %s", a, b)
			}
		})
	}
	for accept, want := range map[string]string{
		"":                         "application/json",
		"application/json":         "application/json",
		structs.ContentTypeMsgpack: structs.ContentTypeMsgpack,
	} {
		req, _ := http.NewRequest("GET", c.Nodes[0].Addr()+"/v1/services", nil)
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := resp.Header.Get("Content-Type"); got != want {
			t.Errorf("Accept %q: Content-Type %q, want %q", accept, got, want)
		}
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	buf, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(buf)
}

// TestWatchOfAGoneClientIsNotAnswered: a blocking query ends with the
// latest answer when its client disconnects; the server records it as
// 499 and encodes nothing for the gone client.
func TestWatchOfAGoneClientIsNotAnswered(t *testing.T) {
	c := testutil.NewCluster(t, 1, testutil.ClusterOptions{})
	cl := newClient(t, c.Nodes[0])
	_, meta, err := cl.Services(api.AllNamespaces, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	sent := make(chan struct{})
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{WroteRequest: func(httptrace.WroteRequestInfo) { close(sent) }})
	done := make(chan error, 1)
	go func() {
		_, _, err := cl.Services(api.AllNamespaces, &api.QueryOptions{WaitIndex: meta.LastIndex, WaitTime: time.Minute, Context: ctx})
		done <- err
	}()
	metric := `mk_http_requests_total{code="499",route="GET /v1/services"} 1`
	base := c.Nodes[0].Addr()
	// Once the request is on the wire the server serves it, and sees its
	// connection close.
	<-sent
	cancel()
	if err := <-done; err == nil {
		t.Fatal("a canceled watch returned no error")
	}
	testutil.WaitFor(t, 10*time.Second, func() (bool, error) {
		_, _, metrics := rawRequest(t, "GET", base+"/v1/metrics", "")
		return strings.Contains(metrics, metric), fmt.Errorf("metrics lack %s", metric)
	})
}
