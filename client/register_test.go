package client

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	hclog "github.com/hashicorp/go-hclog"

	"github.com/mk-orchestrator/mk/api"
	"github.com/mk-orchestrator/mk/structs"
)

// TestRegisterAgainWithAnotherPodCIDR: a node the servers purged while
// its client ran on registers again and is given another /24; the client
// then refuses bridge pods with the reason (its network is on the old
// /24, now another node's) and reports the new /24 from then on.
func TestRegisterAgainWithAnotherPodCIDR(t *testing.T) {
	var sent []string // the pod CIDR each register asked for
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body structs.NodeRegisterBody
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		sent = append(sent, body.Node.PodCIDR)
		_ = json.NewEncoder(w).Encode(&structs.NodeRegisterResponse{HeartbeatTTL: "10s", PodCIDR: "10.42.7.0/24"})
	}))
	defer srv.Close()
	cl, err := api.NewClient(api.Config{Address: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	c := &Client{config: &Config{}, logger: hclog.NewNullLogger(), api: cl,
		node: &structs.Node{ObjectMeta: structs.ObjectMeta{ID: "n1", Name: "n1"}, PodCIDR: "10.42.3.0/24"}}
	pod := &structs.Pod{ObjectMeta: structs.ObjectMeta{ID: "p1"}, Template: &structs.TaskGroup{Network: &structs.NetworkSpec{Mode: structs.NetworkModeBridge}}}
	r := &podRunner{c: c, pod: pod}

	c.registerAgain(context.Background())
	err = r.createNetwork()
	if err == nil || !strings.Contains(err.Error(), "moved this node from pod CIDR 10.42.3.0/24 to 10.42.7.0/24") ||
		!strings.Contains(err.Error(), "restart the agent") {
		t.Fatalf("bridge pod after the move: %v", err)
	}
	c.registerAgain(context.Background())
	if len(sent) != 2 || sent[0] != "10.42.3.0/24" || sent[1] != "10.42.7.0/24" {
		t.Fatalf("registers asked for %q, want the old /24, then the new one", sent)
	}
	// A host-network pod is not affected.
	host := &podRunner{c: c, pod: &structs.Pod{Template: &structs.TaskGroup{Network: &structs.NetworkSpec{Mode: structs.NetworkModeHost}}}}
	if err := host.createNetwork(); err != nil {
		t.Fatalf("host pod: %v", err)
	}
}
