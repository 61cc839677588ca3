package e2e

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand"
	"net/http"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/mk-orchestrator/mk/api"
	"github.com/mk-orchestrator/mk/structs"
	"github.com/mk-orchestrator/mk/testutil"
)

// kvInput is one operation on a job used as a register: a write sets the
// job's Meta["v"], a read returns it ("" when the job does not exist).
type kvInput struct {
	Key   string
	Write bool
	Value string
}

// jobRegisterModel is a register per job ID, checked per key.
var jobRegisterModel = porcupine.Model{
	Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
		byKey := map[string][]porcupine.Operation{}
		for _, op := range history {
			k := op.Input.(kvInput).Key
			byKey[k] = append(byKey[k], op)
		}
		out := make([][]porcupine.Operation, 0, len(byKey))
		for _, ops := range byKey {
			out = append(out, ops)
		}
		return out
	},
	Init: func() any { return "" },
	Step: func(state, input, output any) (bool, any) {
		in := input.(kvInput)
		if in.Write {
			return true, in.Value
		}
		return output.(string) == state.(string), state
	},
	DescribeOperation: func(input, output any) string {
		in := input.(kvInput)
		if in.Write {
			return fmt.Sprintf("put(%s, %s)", in.Key, in.Value)
		}
		return fmt.Sprintf("get(%s) -> %q", in.Key, output)
	},
}

// TestModelRejectsStaleRead makes sure the checker can fail: a read that
// returns an overwritten value after the overwrite completed is flagged.
func TestModelRejectsStaleRead(t *testing.T) {
	bad := []porcupine.Operation{
		{ClientId: 0, Input: kvInput{Key: "a", Write: true, Value: "1"}, Call: 0, Return: 10},
		{ClientId: 0, Input: kvInput{Key: "a", Write: true, Value: "2"}, Call: 20, Return: 30},
		{ClientId: 1, Input: kvInput{Key: "a"}, Output: "1", Call: 40, Return: 50},
	}
	if porcupine.CheckOperations(jobRegisterModel, bad) {
		t.Fatal("a stale read was accepted as linearizable")
	}
	good := append(bad[:2:2], porcupine.Operation{ClientId: 1, Input: kvInput{Key: "a"}, Output: "2", Call: 40, Return: 50})
	if !porcupine.CheckOperations(jobRegisterModel, good) {
		t.Fatal("a linearizable history was rejected")
	}
}

// TestLinearizableJobs has concurrent clients register and read jobs
// through every server's HTTP API while the leader is killed and another
// server's Raft transport is cut, and checks the history with porcupine.
func TestLinearizableJobs(t *testing.T) {
	c := testutil.NewCluster(t, 3, testutil.ClusterOptions{})
	const clients = 6
	var keys []string
	// Porcupine checks each key on its own, and its work grows steeply
	// with the writes of unknown outcome in one key's history: spread
	// them over enough keys to check in seconds.
	for i := 0; i < 32; i++ {
		keys = append(keys, fmt.Sprintf("k%d", i))
	}
	start := time.Now()
	now := func() int64 { return int64(time.Since(start)) }

	var mu sync.Mutex
	var history []porcupine.Operation
	record := func(op porcupine.Operation) {
		mu.Lock()
		history = append(history, op)
		mu.Unlock()
	}

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var nodesMu sync.RWMutex // guards which nodes are alive while faults run
	for id := 0; id < clients; id++ {
		wg.Add(1)
		go func(id int) {
			defer wg.Done()
			rng := rand.New(rand.NewSource(int64(id)))
			httpClient := &http.Client{Timeout: 3 * time.Second}
			for seq := 0; ctx.Err() == nil; seq++ {
				nodesMu.RLock()
				alive := c.Alive()
				n := c.Nodes[alive[rng.Intn(len(alive))]]
				addr := n.Addr()
				nodesMu.RUnlock()
				cl, _ := api.NewClient(api.Config{Address: addr, HTTPClient: httpClient})
				in := kvInput{Key: keys[rng.Intn(len(keys))], Write: rng.Intn(2) == 0}
				if in.Write {
					in.Value = fmt.Sprintf("c%d-%d", id, seq)
				}
				op, ok := runOp(cl, id, in, now)
				if ok {
					record(op)
				}
				if !ok || op.Return == math.MaxInt64 {
					// Back off after a failure so faults don't turn into
					// thousands of unknown outcomes for the checker.
					pause(ctx, 200*time.Millisecond)
				} else {
					// A little think time keeps the history small enough
					// to check in seconds while ops still overlap.
					pause(ctx, time.Duration(rng.Intn(3))*time.Millisecond)
				}
			}
		}(id)
	}

	faults := []struct {
		at time.Duration
		do func()
	}{
		{1500 * time.Millisecond, func() { c.Kill(c.Leader()) }},
		{3500 * time.Millisecond, func() { c.Nodes[c.Alive()[0]].Server.PartitionRaft(true) }},
		{5500 * time.Millisecond, func() { c.Nodes[c.Alive()[0]].Server.PartitionRaft(false) }},
		{6500 * time.Millisecond, func() {
			for i, n := range c.Nodes {
				if !n.Alive() {
					c.Restart(i)
				}
			}
		}},
	}
	for _, f := range faults {
		<-time.After(time.Until(start.Add(f.at))) // the fault schedule
		nodesMu.Lock()
		f.do()
		nodesMu.Unlock()
	}
	<-time.After(time.Until(start.Add(9 * time.Second)))
	cancel()
	wg.Wait()

	var reads, writes, unknown int
	for _, op := range history {
		switch {
		case op.Return == math.MaxInt64:
			unknown++
		case op.Input.(kvInput).Write:
			writes++
		default:
			reads++
		}
	}
	t.Logf("history: %d acked writes, %d reads, %d writes of unknown outcome", writes, reads, unknown)
	if writes < 50 || reads < 50 {
		t.Fatalf("too few operations to judge: %d writes, %d reads", writes, reads)
	}
	res, info := porcupine.CheckOperationsVerbose(jobRegisterModel, history, 120*time.Second)
	if res != porcupine.Ok {
		path := t.TempDir() + "/history.html"
		if err := porcupine.VisualizePath(jobRegisterModel, info, path); err == nil {
			t.Logf("visualization in %s", path)
		}
		t.Fatalf("history is not linearizable: %v", res)
	}
}

// runOp performs one operation and records it. A write that fails may or
// may not have happened: it is recorded as returning at the end of time,
// so the checker may place it anywhere after its call. A failed read tells
// nothing and is dropped.
func runOp(cl *api.Client, id int, in kvInput, now func() int64) (porcupine.Operation, bool) {
	op := porcupine.Operation{ClientId: id, Input: in, Call: now()}
	if in.Write {
		_, err := cl.RegisterJob(context.Background(), &structs.JobRegisterBody{Job: testJob(in.Key, in.Value)})
		op.Return = now()
		var apiErr *api.Error
		if errors.Is(err, syscall.ECONNREFUSED) {
			return op, false // never reached a server: it did not happen
		}
		if errors.As(err, &apiErr) && apiErr.StatusCode >= 400 && apiErr.StatusCode < 500 {
			return op, false // refused before it was proposed: it did not happen
		}
		if err != nil {
			op.Return = math.MaxInt64
		}
		return op, true
	}
	job, _, err := cl.Job(in.Key, nil)
	op.Return = now()
	var apiErr *api.Error
	switch {
	case err == nil:
		op.Output = job.Meta["v"]
	case errors.As(err, &apiErr) && apiErr.StatusCode == http.StatusNotFound:
		op.Output = ""
	default:
		return op, false
	}
	return op, true
}

// pause waits d or until ctx ends, whichever comes first.
func pause(ctx context.Context, d time.Duration) {
	select {
	case <-time.After(d):
	case <-ctx.Done():
	}
}
