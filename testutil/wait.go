// Package testutil has helpers shared by mk's tests: waiting on conditions
// with deadlines, free ports, and in-process server clusters.
package testutil

import (
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/mk-orchestrator/mk/testutil/poll"
)

// WaitFor polls cond until it returns true or the deadline passes (see
// package poll, which holds the implementation).
func WaitFor(t testing.TB, deadline time.Duration, cond func() (bool, error)) {
	t.Helper()
	poll.WaitFor(t, deadline, cond)
}

// Wait is WaitFor without a testing.TB, for benchmarks and tools.
func Wait(deadline time.Duration, cond func() (bool, error)) error { return poll.Wait(deadline, cond) }

var (
	portsMu   sync.Mutex
	handedOut = map[int]bool{}
)

// FreePort returns a port that is free for both TCP and UDP on 127.0.0.1
// (Serf needs both).
func FreePort(t testing.TB) int {
	t.Helper()
	portsMu.Lock()
	defer portsMu.Unlock()
	for i := 0; i < 50; i++ {
		tl, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := tl.Addr().(*net.TCPAddr).Port
		ul, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port))
		tl.Close()
		if err != nil {
			continue
		}
		ul.Close()
		if handedOut[port] {
			continue
		}
		handedOut[port] = true
		return port
	}
	t.Fatal("no free port")
	return 0
}
