package state

import (
	"errors"
	"fmt"
	"testing"

	"github.com/mk-orchestrator/mk/structs"
)

func TestPodCIDRAllocation(t *testing.T) {
	s := newStore(t)
	register := func(index uint64, id, pool string) (*structs.Node, error) {
		txn := s.WriteTxn()
		n := &structs.Node{ObjectMeta: structs.ObjectMeta{ID: id, Name: id}, Status: structs.NodeStatusReady}
		if err := txn.UpsertNode(index, n, pool); err != nil {
			txn.Abort()
			return nil, err
		}
		if err := txn.Commit(); err != nil {
			t.Fatal(err)
		}
		return s.NodeByID(nil, id)
	}
	const pool = "10.42.0.0/23" // room for two /24s
	steps := []struct {
		id, want string
		wantErr  error
	}{
		{"a", "10.42.0.0/24", nil},
		{"b", "10.42.1.0/24", nil},
		{"a", "10.42.0.0/24", nil}, // a re-register keeps its /24
		{"c", "", structs.ErrConflict},
	}
	for i, st := range steps {
		n, err := register(uint64(10+i), st.id, pool)
		if !errors.Is(err, st.wantErr) || (err == nil) != (st.wantErr == nil) {
			t.Fatalf("step %d: register %s: %v, want %v", i, st.id, err, st.wantErr)
		}
		if err == nil && n.PodCIDR != st.want {
			t.Fatalf("step %d: node %s got %q, want %q", i, st.id, n.PodCIDR, st.want)
		}
	}
	// A node that brings a /24 another holds is refused.
	txn := s.WriteTxn()
	defer txn.Abort()
	dup := &structs.Node{ObjectMeta: structs.ObjectMeta{ID: "d", Name: "d"}, PodCIDR: "10.42.1.0/24"}
	if err := txn.UpsertNode(20, dup, pool); !errors.Is(err, structs.ErrConflict) {
		t.Fatalf("duplicate pod CIDR: %v, want conflict", err)
	}
}

func TestServiceAddressAllocation(t *testing.T) {
	s := newStore(t)
	run := func(index uint64, job *structs.Job) error {
		req := registerReq(t, job)
		req.ServiceCIDR = "10.96.0.0/16"
		_, err := s.UpsertJob(index, req)
		return err
	}
	svc := func(name string) *structs.Service {
		got, err := s.ServiceByName(nil, structs.DefaultNamespace, name)
		if err != nil || got == nil {
			t.Fatalf("service %s: %v, %v", name, got, err)
		}
		return got
	}
	nodePortJob := func(name string, port int) *structs.Job {
		j := testJob(name, 1)
		j.Groups[0].Services[0].Type, j.Groups[0].Services[0].NodePort = structs.ServiceTypeNodePort, port
		return j
	}
	if err := run(10, testJob("a", 1)); err != nil {
		t.Fatal(err)
	}
	if err := run(11, nodePortJob("b", 0)); err != nil {
		t.Fatal(err)
	}
	a, b := svc("a-svc"), svc("b-svc")
	if a.ClusterIP != "10.96.0.2" || b.ClusterIP != "10.96.0.3" {
		t.Fatalf("ClusterIPs %s, %s; want 10.96.0.2, 10.96.0.3 (the lowest free, .1 kept)", a.ClusterIP, b.ClusterIP)
	}
	if a.Ports[0].NodePort != 0 || b.Ports[0].NodePort != structs.NodePortMin {
		t.Fatalf("NodePorts %d, %d; want 0, %d", a.Ports[0].NodePort, b.Ports[0].NodePort, structs.NodePortMin)
	}

	// A new version keeps the service's addresses.
	b3 := nodePortJob("b", 0)
	b3.Groups[0].Count = 3
	if err := run(12, b3); err != nil {
		t.Fatal(err)
	}
	if got := svc("b-svc"); got.ClusterIP != b.ClusterIP || got.Ports[0].NodePort != b.Ports[0].NodePort {
		t.Fatalf("new version moved the service: %s:%d, want %s:%d", got.ClusterIP, got.Ports[0].NodePort, b.ClusterIP, b.Ports[0].NodePort)
	}

	// A NodePort another service holds is a field error; the job is not
	// written.
	err := run(13, nodePortJob("c", structs.NodePortMin))
	var verr *structs.ValidationError
	if !errors.As(err, &verr) || verr.Field != "node_port" {
		t.Fatalf("taken NodePort: %v, want a node_port field error", err)
	}
	if j, _ := s.JobByID(nil, structs.DefaultNamespace, "c"); j != nil {
		t.Fatal("a refused register left the job behind")
	}

	// A stopped job's addresses are not handed out again while the range
	// has room above the highest in use (a client may still cache them).
	if err := s.DeregisterJob(14, &structs.JobDeregisterRequest{Namespace: structs.DefaultNamespace, JobID: "a"}); err != nil {
		t.Fatal(err)
	}
	if err := run(15, testJob("d", 1)); err != nil {
		t.Fatal(err)
	}
	if got := svc("d-svc"); got.ClusterIP != "10.96.0.4" {
		t.Fatalf("after a's stop d got %s, want 10.96.0.4 (after the highest in use)", got.ClusterIP)
	}

	// Once the top of the range is reached, the lowest free address.
	small := func(index uint64, name string) error {
		req := registerReq(t, testJob(name, 1))
		req.ServiceCIDR = "10.97.0.0/29" // .2 to .6
		_, err := s.UpsertJob(index, req)
		return err
	}
	for i, name := range []string{"w2", "w3", "w4", "w5", "w6"} {
		if err := small(uint64(20+i), name); err != nil {
			t.Fatal(err)
		}
		if got, want := svc(name+"-svc").ClusterIP, fmt.Sprintf("10.97.0.%d", i+2); got != want {
			t.Fatalf("%s got %s, want %s", name, got, want)
		}
	}
	if err := small(30, "full"); !errors.Is(err, structs.ErrConflict) {
		t.Fatalf("a full service CIDR: %v, want conflict", err)
	}
	if err := s.DeregisterJob(31, &structs.JobDeregisterRequest{Namespace: structs.DefaultNamespace, JobID: "w4"}); err != nil {
		t.Fatal(err)
	}
	if err := small(32, "again"); err != nil {
		t.Fatal(err)
	}
	if got := svc("again-svc").ClusterIP; got != "10.97.0.4" {
		t.Fatalf("in a full range after w4's stop: %s, want the freed 10.97.0.4", got)
	}
}

func TestPurgedNodeFreesItsPodCIDR(t *testing.T) {
	s := newStore(t)
	const pool = "10.42.0.0/24" // room for one node
	upsert := func(index uint64, id, status string) error {
		txn := s.WriteTxn()
		defer txn.Abort()
		if err := txn.UpsertNode(index, &structs.Node{ObjectMeta: structs.ObjectMeta{ID: id, Name: id}, Status: status}, pool); err != nil {
			return err
		}
		txn.Commit()
		return nil
	}
	purge := func(index uint64, id string) error {
		txn := s.WriteTxn()
		defer txn.Abort()
		if err := txn.PurgeNode(index, &structs.NodePurgeRequest{NodeID: id}); err != nil {
			return err
		}
		txn.Commit()
		return nil
	}
	if err := upsert(10, "a", structs.NodeStatusReady); err != nil {
		t.Fatal(err)
	}
	if err := upsert(11, "b", structs.NodeStatusReady); !errors.Is(err, structs.ErrConflict) {
		t.Fatalf("second node in a one-/24 pool: %v, want conflict", err)
	}
	if err := purge(12, "a"); !errors.Is(err, structs.ErrConflict) {
		t.Fatalf("purge of a ready node: %v, want conflict", err)
	}
	if err := upsert(13, "a", structs.NodeStatusDown); err != nil {
		t.Fatal(err)
	}
	if err := purge(14, "a"); err != nil {
		t.Fatal(err)
	}
	if err := purge(15, "a"); !errors.Is(err, structs.ErrNotFound) {
		t.Fatalf("purge of a purged node: %v, want not found", err)
	}
	if err := upsert(16, "b", structs.NodeStatusReady); err != nil {
		t.Fatalf("the purged node's /24 is not free: %v", err)
	}
	if n, _ := s.NodeByID(nil, "b"); n.PodCIDR != "10.42.0.0/24" {
		t.Fatalf("node b got %q", n.PodCIDR)
	}

	// The purged node's client ran on and registers again with the /24 it
	// had, now b's: it gets a free one (none in this pool), never b's.
	again := func(index uint64, pool string) (*structs.Node, error) {
		txn := s.WriteTxn()
		defer txn.Abort()
		n := &structs.Node{ObjectMeta: structs.ObjectMeta{ID: "a", Name: "a"}, Status: structs.NodeStatusReady, PodCIDR: "10.42.0.0/24"}
		if err := txn.UpsertNode(index, n, pool); err != nil {
			return nil, err
		}
		txn.Commit()
		return n, nil
	}
	if _, err := again(17, pool); !errors.Is(err, structs.ErrConflict) {
		t.Fatalf("purged node back in a full pool: %v, want conflict", err)
	}
	n, err := again(18, "10.42.0.0/23")
	if err != nil || n.PodCIDR != "10.42.1.0/24" {
		t.Fatalf("purged node back: %+v, %v; want the free 10.42.1.0/24", n, err)
	}
}
