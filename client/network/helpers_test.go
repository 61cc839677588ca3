package network

import (
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-iptables/iptables"
	hclog "github.com/hashicorp/go-hclog"
	"github.com/vishvananda/netlink"

	"github.com/mk-orchestrator/mk/client/state"
)

// The integration tests run "the host" in a throwaway network namespace:
// the bridge, routes and iptables rules they make are in it, and go with
// it, so the machine's own network is never touched.

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("needs root (network namespaces)")
	}
}

// testNS makes a network namespace pinned in a temporary directory, with
// lo up, removed when the test ends.
func testNS(t *testing.T, name string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := createNetNS(path); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := removeNetNS(path); err != nil {
			t.Errorf("remove test namespace: %v", err)
		}
	})
	h, err := openHandle(path)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	lo, err := h.LinkByName("lo")
	if err == nil {
		err = h.LinkSetUp(lo)
	}
	if err != nil {
		t.Fatal(err)
	}
	return path
}

// testManager returns a set-up manager of subnet in a new host namespace,
// torn down when the test ends.
type testEnv struct {
	host, stateDir, dataDir string
	db                      *state.DB
	m                       *Manager
}

func newTestEnv(t *testing.T, subnet string) *testEnv {
	t.Helper()
	needRoot(t)
	e := &testEnv{host: testNS(t, "host"), stateDir: filepath.Join(t.TempDir(), "netns"), dataDir: t.TempDir()}
	db, err := state.Open(e.dataDir)
	if err != nil {
		t.Fatal(err)
	}
	e.db = db
	e.m = e.manager(t)
	t.Cleanup(func() {
		if err := e.m.Teardown(); err != nil {
			t.Errorf("teardown: %v", err)
		}
		// Whatever Teardown missed: no namespace stays pinned.
		entries, _ := os.ReadDir(e.stateDir)
		for _, en := range entries {
			_ = removeNetNS(filepath.Join(e.stateDir, en.Name()))
		}
		e.m.Close()
		db.Close()
	})
	if err := e.m.Setup(); err != nil {
		t.Fatal(err)
	}
	return e
}

// manager makes a manager on the env's host, state dir and store (a
// restarted client makes a new one).
func (e *testEnv) manager(t *testing.T) *Manager {
	t.Helper()
	m, err := New(Config{NodeID: "node1", PodCIDR: "10.42.1.0/24", PoolCIDR: "10.42.0.0/16", StateDir: e.stateDir,
		HostNetNS: e.host, Store: e.db, Logger: hclog.New(&hclog.LoggerOptions{Level: hclog.Debug, Output: io.Discard})})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// hostHandle opens netlink in the env's host namespace.
func (e *testEnv) hostHandle(t *testing.T) *netlink.Handle {
	t.Helper()
	h, err := openHandle(e.host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	return h
}

// listen opens a TCP listener in the namespace at ns (where addr must be)
// that answers each connection with the address it came from, then
// closes it.
func listen(t *testing.T, ns, addr string) net.Listener {
	t.Helper()
	var l net.Listener
	err := inNetNS(ns, func() (err error) {
		l, err = net.Listen("tcp", addr)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			_, _ = fmt.Fprintf(c, "%s\n", c.RemoteAddr().(*net.TCPAddr).IP)
			c.Close()
		}
	}()
	return l
}

// dial connects from the namespace at ns to addr and returns what the
// listener answered: the source address it saw.
func dial(ns, addr string) (string, error) {
	var out string
	err := inNetNS(ns, func() error {
		c, err := net.DialTimeout("tcp", addr, 3*time.Second)
		if err != nil {
			return err
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(3 * time.Second))
		b, err := io.ReadAll(c)
		out = strings.TrimSpace(string(b))
		return err
	})
	return out, err
}

// rules lists a chain of the env's host.
func (e *testEnv) rules(t *testing.T, table, chain string) []string {
	t.Helper()
	var out []string
	err := e.m.iptables(func(ipt *iptables.IPTables) (err error) {
		out, err = ipt.List(table, chain)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// readInNS reads a file (a /proc/sys entry) in the namespace at ns.
func readInNS(t *testing.T, ns, path string) string {
	t.Helper()
	var b []byte
	if err := inNetNS(ns, func() (err error) { b, err = os.ReadFile(path); return err }); err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// link connects two namespaces with a veth pair: aName with aAddr in a,
// bName with bAddr in b.
func link(t *testing.T, a, aName, aAddr, b, bName, bAddr string) {
	t.Helper()
	ha, err := openHandle(a)
	if err != nil {
		t.Fatal(err)
	}
	defer ha.Close()
	hb, err := openHandle(b)
	if err != nil {
		t.Fatal(err)
	}
	defer hb.Close()
	nsB, err := nsFd(b)
	if err != nil {
		t.Fatal(err)
	}
	defer nsB.Close()
	la := netlink.NewLinkAttrs()
	la.Name = aName
	if err := ha.LinkAdd(&netlink.Veth{LinkAttrs: la, PeerName: bName, PeerNamespace: netlink.NsFd(int(nsB.Fd()))}); err != nil {
		t.Fatal(err)
	}
	for _, side := range []struct {
		h          *netlink.Handle
		name, addr string
	}{{ha, aName, aAddr}, {hb, bName, bAddr}} {
		l, err := side.h.LinkByName(side.name)
		if err != nil {
			t.Fatal(err)
		}
		ip, err := netlink.ParseAddr(side.addr)
		if err == nil {
			err = side.h.AddrAdd(l, ip)
		}
		if err == nil {
			err = side.h.LinkSetUp(l)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

func nsFd(path string) (*os.File, error) { return os.Open(path) }
