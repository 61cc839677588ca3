package proxy

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// testNS is a network namespace made for one test, removed (with every
// link in it) when the test ends. Programs run in it through run; Go
// sockets are made in it with do.
type testNS struct {
	name   string
	handle netns.NsHandle
	run    Runner
	link   *netlink.Handle
}

var nsCount atomic.Int32

// requireTools fails the test unless it runs as root with the programs
// the writers need (CI runs as root; scripts/deps.sh installs them).
func requireTools(t *testing.T, tools ...string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("needs root: it makes network namespaces")
	}
	for _, tool := range append([]string{"nsenter"}, tools...) {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("needs %s (scripts/deps.sh installs it)", tool)
		}
	}
}

// newTestNS makes a named namespace with lo up. The calling thread is
// back in its own namespace when it returns.
func newTestNS(t *testing.T) *testNS {
	t.Helper()
	name := fmt.Sprintf("mkpx%d-%d", os.Getpid(), nsCount.Add(1))
	handle, err := func() (netns.NsHandle, error) {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		orig, err := netns.Get()
		if err != nil {
			return 0, err
		}
		defer orig.Close()
		h, err := netns.NewNamed(name) // also moves this thread into it
		if setErr := netns.Set(orig); setErr != nil {
			panic(fmt.Sprintf("cannot return to the original namespace: %v", setErr))
		}
		return h, err
	}()
	if err != nil {
		t.Fatalf("new namespace %s: %v", name, err)
	}
	ns := &testNS{name: name, handle: handle,
		run: ExecRunner{NetNS: "/run/netns/" + name}}
	t.Cleanup(func() {
		if ns.link != nil {
			ns.link.Close()
		}
		handle.Close()
		_ = netns.DeleteNamed(name)
	})
	if ns.link, err = netlink.NewHandleAt(handle); err != nil {
		t.Fatalf("netlink in %s: %v", name, err)
	}
	lo, err := ns.link.LinkByName("lo")
	if err == nil {
		err = ns.link.LinkSetUp(lo)
	}
	if err != nil {
		t.Fatalf("lo up in %s: %v", name, err)
	}
	return ns
}

// sh runs a program in the namespace and fails the test if it fails.
func (ns *testNS) sh(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := ns.run.Run(context.Background(), nil, name, args...)
	if err != nil {
		t.Fatalf("in %s: %v", ns.name, err)
	}
	return string(out)
}

// do runs fn on a thread in the namespace: sockets fn makes live there.
func (ns *testNS) do(fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		// The thread never leaves the locked state: it ends with the
		// goroutine, so no other goroutine ever runs in the namespace.
		runtime.LockOSThread()
		if err := netns.Set(ns.handle); err != nil {
			errc <- fmt.Errorf("enter %s: %w", ns.name, err)
			return
		}
		errc <- fn()
	}()
	return <-errc
}

// iptablesSave is mk's view of both tables: iptables-save without its
// timestamps and counters.
func (ns *testNS) iptablesSave(t *testing.T) string {
	t.Helper()
	var keep []string
	for _, line := range strings.Split(ns.sh(t, "iptables-save"), "\n") {
		if strings.HasPrefix(line, "#") {
			continue
		}
		if strings.HasPrefix(line, ":") {
			line, _, _ = strings.Cut(line, " [")
		}
		keep = append(keep, line)
	}
	return strings.Join(keep, "\n")
}
