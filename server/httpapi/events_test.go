package httpapi_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mk-orchestrator/mk/api"
	"github.com/mk-orchestrator/mk/server"
	"github.com/mk-orchestrator/mk/structs"
	"github.com/mk-orchestrator/mk/testutil"
)

// nextBatch reads the next batch of a stream, failing the test after 10s.
func nextBatch(t *testing.T, s *api.EventStream) *api.EventBatch {
	t.Helper()
	type result struct {
		b   *api.EventBatch
		err error
	}
	ch := make(chan result, 1)
	go func() {
		b, err := s.Next()
		ch <- result{b, err}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			t.Fatalf("next batch: %v", r.err)
		}
		return r.b
	case <-time.After(10 * time.Second):
		t.Fatal("no batch within 10s")
	}
	return nil
}

func TestEventStream(t *testing.T) {
	c := testutil.NewCluster(t, 1, testutil.ClusterOptions{})
	cl := newClient(t, c.Nodes[0])
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	reg, err := cl.RegisterJob(ctx, &structs.JobRegisterBody{Job: job("web")})
	if err != nil {
		t.Fatal(err)
	}

	// From index 0, the register is there, with its index and the job.
	s, err := cl.EventStream(ctx, api.EventStreamOptions{Topics: []string{structs.TopicJob}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.StartIndex != 0 {
		t.Fatalf("stream starts after %d, want 0", s.StartIndex)
	}
	b := nextBatch(t, s)
	if b.Index != reg.Index || len(b.Events) != 1 || b.Events[0].Type != "JobRegistered" || b.Events[0].Key != "web" {
		t.Fatalf("first batch %s, want web's JobRegistered at %d", b.Raw, reg.Index)
	}
	if j, err := b.Events[0].Job(); err != nil || j.ModifyIndex != reg.Index || j.Groups[0].Count != 2 {
		t.Fatalf("payload %+v, %v", j, err)
	}

	// A key filter passes only its object; a decision recorded by a
	// controller streams under its topic and shows in the job's events.
	keyed, err := cl.EventStream(ctx, api.EventStreamOptions{Topics: []string{"Job:api", "Deployment"}, Keys: []string{"api"}, Latest: true})
	if err != nil {
		t.Fatal(err)
	}
	defer keyed.Close()
	if _, err := cl.RegisterJob(ctx, &structs.JobRegisterBody{Job: job("other")}); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.RegisterJob(ctx, &structs.JobRegisterBody{Job: job("api")}); err != nil {
		t.Fatal(err)
	}
	decision := &structs.JobEvent{Namespace: "default", JobID: "api", Group: "g", Topic: structs.TopicDeployment, Type: "RolloutStep", Message: "1 of 2 replaced"}
	if err := c.Nodes[0].Server.RecordEvents(decision); err != nil {
		t.Fatal(err)
	}
	// (The controllers may update the deployment meanwhile: those
	// updates are left out.)
	var got []string
	for len(got) < 3 {
		for _, e := range nextBatch(t, keyed).Events {
			if e.Type != "DeploymentUpdated" {
				got = append(got, e.Topic+":"+e.Type+":"+e.Key)
			}
		}
	}
	if want := "Job:JobRegistered:api Deployment:DeploymentCreated:api-g Deployment:RolloutStep:api"; strings.Join(got, " ") != want {
		t.Fatalf("keyed stream: %s, want %s", strings.Join(got, " "), want)
	}
	events, _, err := cl.JobEvents("api", nil)
	if err != nil || len(events) != 1 || events[0].Message != "1 of 2 replaced" || events[0].Index == 0 {
		t.Fatalf("job events: %+v, %v", events, err)
	}
}

func TestEventStreamHeartbeats(t *testing.T) {
	c := testutil.NewCluster(t, 1, testutil.ClusterOptions{})
	c.Nodes[0].HTTP.SetEventHeartbeat(20 * time.Millisecond)
	resp, err := http.Get(c.Nodes[0].Addr() + "/v1/event/stream?topic=Autoscaler")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != http.StatusOK || ct != "application/x-ndjson" {
		t.Fatalf("status %d, content type %q", resp.StatusCode, ct)
	}
	r := bufio.NewReader(resp.Body)
	for i := 0; i < 3; i++ {
		line, err := r.ReadString('\n')
		if err != nil || line != "{}\n" {
			t.Fatalf("line %d: %q, %v; want a heartbeat {}", i, line, err)
		}
	}
}

func TestEventStreamErrors(t *testing.T) {
	c := testutil.NewCluster(t, 1, testutil.ClusterOptions{
		Configure: func(_ int, cfg *server.Config) { cfg.EventBufferSize = 4 },
	})
	cl := newClient(t, c.Nodes[0])
	for _, name := range []string{"a", "b", "c", "d"} {
		if _, err := cl.RegisterJob(context.Background(), &structs.JobRegisterBody{Job: job(name)}); err != nil {
			t.Fatal(err)
		}
	}
	oldest := c.Nodes[0].Server.Events().Oldest()
	if oldest == 0 {
		t.Fatal("a 4-event buffer dropped nothing after 4 registers")
	}
	tests := []struct {
		name, query string
		status      int
		field       string
		msg         string
	}{
		{"index older than the buffer", "?index=0", http.StatusGone, "", "is older than this server's event buffer"},
		{"unknown topic", "?topic=Pods", http.StatusBadRequest, "topic", "topic must be one of"},
		{"bad index", "?index=x", http.StatusBadRequest, "index", "must be a non-negative integer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, header, body := rawRequest(t, http.MethodGet, c.Nodes[0].Addr()+"/v1/event/stream"+tt.query, "")
			var e struct{ Error, Field string }
			if err := json.Unmarshal([]byte(body), &e); err != nil || status != tt.status || e.Field != tt.field || !strings.Contains(e.Error, tt.msg) {
				t.Fatalf("%d %q (%s): want %d, field %q, error with %q", status, body, header.Get("Content-Type"), tt.status, tt.field, tt.msg)
			}
		})
	}
	// The api client sees the 410 as such, and the oldest index is served.
	if _, err := cl.EventStream(context.Background(), api.EventStreamOptions{Index: oldest - 1}); !api.IsGone(err) {
		t.Fatalf("stream from %d: %v, want a 410", oldest-1, err)
	}
	s, err := cl.EventStream(context.Background(), api.EventStreamOptions{Index: oldest})
	if err != nil {
		t.Fatalf("stream from the oldest index %d: %v", oldest, err)
	}
	defer s.Close()
	if b := nextBatch(t, s); b.Index <= oldest {
		t.Fatalf("first batch at %d, want after %d", b.Index, oldest)
	}
}
