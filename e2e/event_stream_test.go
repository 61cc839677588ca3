package e2e

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mk-orchestrator/mk/api"
	"github.com/mk-orchestrator/mk/structs"
	"github.com/mk-orchestrator/mk/testutil"
)

// eventLog is what an event consumer saw: each batch's index and events
// ("Topic:Type:Key"), in the order they came.
type eventLog struct {
	mu      sync.Mutex
	indexes []uint64
	events  map[uint64][]string
}

func (l *eventLog) add(b *api.EventBatch) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.indexes = append(l.indexes, b.Index)
	for _, e := range b.Events {
		l.events[b.Index] = append(l.events[b.Index], e.Topic+":"+e.Type+":"+e.Key)
	}
	return nil
}

// has reports whether every index of want has been seen.
func (l *eventLog) has(want []uint64) (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, i := range want {
		if _, ok := l.events[i]; !ok {
			return false, fmt.Errorf("index %d not streamed yet (%d batches seen)", i, len(l.indexes))
		}
	}
	return true, nil
}

// ackedWrites registers jobs one after another through any live server
// until stop, keeping the index of each register acknowledged.
type ackedWrites struct {
	mu    sync.Mutex
	index map[string]uint64 // job → index of its acked register
}

func (w *ackedWrites) run(ctx context.Context, c *testutil.Cluster, nodesMu *sync.RWMutex) {
	httpClient := &http.Client{Timeout: 3 * time.Second}
	for seq := 0; ctx.Err() == nil; seq++ {
		nodesMu.RLock()
		alive := c.Alive()
		addr := c.Nodes[alive[seq%len(alive)]].Addr()
		nodesMu.RUnlock()
		cl, _ := api.NewClient(api.Config{Address: addr, HTTPClient: httpClient})
		name := fmt.Sprintf("ev-%d", seq)
		resp, err := cl.RegisterJob(ctx, &structs.JobRegisterBody{Job: testJob(name, "1")})
		if err != nil {
			pause(ctx, 50*time.Millisecond) // no leader yet, or a server just killed
			continue
		}
		w.mu.Lock()
		w.index[name] = resp.Index
		w.mu.Unlock()
	}
}

func (w *ackedWrites) snapshot() map[string]uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make(map[string]uint64, len(w.index))
	for k, v := range w.index {
		out[k] = v
	}
	return out
}

// TestEventStreamResumesAcrossFailover follows the event stream of a
// 3-server cluster from index 0, starting on the leader, while jobs are
// registered; the leader is killed mid-stream and the consumer resumes
// from its last index on another server. Every acknowledged register
// must be streamed once, at its index, and the consumer's indexes and
// events must be exactly those of a survivor's whole stream: no gap, no
// duplicate, in order.
func TestEventStreamResumesAcrossFailover(t *testing.T) {
	c := testutil.NewCluster(t, 3, testutil.ClusterOptions{})
	leader := c.Leader()
	var clients []*api.Client
	for _, i := range append([]int{leader}, slices.DeleteFunc([]int{0, 1, 2}, func(i int) bool { return i == leader })...) {
		cl, err := api.NewClient(api.Config{Address: c.Nodes[i].Addr()})
		if err != nil {
			t.Fatal(err)
		}
		clients = append(clients, cl)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	seen := &eventLog{events: map[uint64][]string{}}
	var reconnectsMu sync.Mutex
	var reconnects []string
	followDone := make(chan error, 1)
	go func() {
		followDone <- api.FollowEvents(ctx, clients, api.EventStreamOptions{Index: 0, IdleTimeout: 5 * time.Second}, seen.add,
			func(addr string, err error) {
				reconnectsMu.Lock()
				reconnects = append(reconnects, fmt.Sprintf("%s: %v", addr, err))
				reconnectsMu.Unlock()
			})
	}()

	writes := &ackedWrites{index: map[string]uint64{}}
	var nodesMu sync.RWMutex
	writeCtx, stopWrites := context.WithCancel(ctx)
	writerDone := make(chan struct{})
	go func() {
		writes.run(writeCtx, c, &nodesMu)
		close(writerDone)
	}()

	// Kill the leader once the consumer has streamed 20 acked registers
	// from it, then go on writing through the new leader.
	waitAcked := func(n int, deadline time.Duration) {
		testutil.WaitFor(t, deadline, func() (bool, error) {
			acked := writes.snapshot()
			if len(acked) < n {
				return false, fmt.Errorf("%d acked registers, want %d", len(acked), n)
			}
			return seen.has(indexesOf(acked))
		})
	}
	waitAcked(20, 30*time.Second)
	nodesMu.Lock()
	c.Kill(leader)
	nodesMu.Unlock()
	before := len(writes.snapshot())
	waitAcked(before+20, 60*time.Second)
	stopWrites()
	<-writerDone

	// Every acked register streamed, at its own index, as its job.
	acked := writes.snapshot()
	waitAcked(len(acked), 30*time.Second)
	cancel()
	if err := <-followDone; err != nil {
		t.Fatalf("follow events: %v", err)
	}
	for name, index := range acked {
		if !slices.Contains(seen.events[index], "Job:JobRegistered:"+name) {
			t.Fatalf("index %d, the acked register of %s, streamed %v", index, name, seen.events[index])
		}
	}
	// In order, each index once.
	for i := 1; i < len(seen.indexes); i++ {
		if seen.indexes[i] <= seen.indexes[i-1] {
			t.Fatalf("index %d streamed after %d", seen.indexes[i], seen.indexes[i-1])
		}
	}
	reconnectsMu.Lock()
	t.Logf("%d acked registers (%d before the kill); %d batches streamed; reconnects: %v", len(acked), before, len(seen.indexes), reconnects)
	if len(reconnects) == 0 {
		t.Fatal("the consumer never lost its connection to the killed leader")
	}
	reconnectsMu.Unlock()

	// No gap: a survivor's own buffer, read whole, holds the same
	// batches up to the consumer's last index.
	last := seen.indexes[len(seen.indexes)-1]
	for _, i := range c.Alive() {
		want := survivorStream(t, c.Nodes[i].Addr(), last)
		if len(want) != len(seen.indexes) {
			t.Fatalf("%s streams %d batches up to %d, the consumer saw %d", c.Nodes[i].Config.NodeName, len(want), last, len(seen.indexes))
		}
		for k, b := range want {
			if b.index != seen.indexes[k] || b.events != strings.Join(seen.events[b.index], " ") {
				t.Fatalf("%s batch %d: index %d %s; the consumer saw index %d %s", c.Nodes[i].Config.NodeName, k,
					b.index, b.events, seen.indexes[k], strings.Join(seen.events[seen.indexes[k]], " "))
			}
		}
	}
}

func indexesOf(acked map[string]uint64) []uint64 {
	out := make([]uint64, 0, len(acked))
	for _, i := range acked {
		out = append(out, i)
	}
	return out
}

type streamedBatch struct {
	index  uint64
	events string
}

// survivorStream reads a server's stream from index 0 up to last.
func survivorStream(t *testing.T, addr string, last uint64) []streamedBatch {
	t.Helper()
	cl, err := api.NewClient(api.Config{Address: addr})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := cl.EventStream(ctx, api.EventStreamOptions{Index: 0})
	if err != nil {
		t.Fatalf("stream %s from 0: %v", addr, err)
	}
	defer s.Close()
	var out []streamedBatch
	for {
		b, err := s.Next()
		if err != nil {
			t.Fatalf("stream %s: %v", addr, err)
		}
		if b.Index > last {
			return out
		}
		var events []string
		for _, e := range b.Events {
			events = append(events, e.Topic+":"+e.Type+":"+e.Key)
		}
		out = append(out, streamedBatch{b.Index, strings.Join(events, " ")})
		if b.Index == last {
			return out
		}
	}
}
