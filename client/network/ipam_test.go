package network

import (
	"errors"
	"net"
	"sort"
	"testing"

	"github.com/mk-orchestrator/mk/client/state"
)

// memStore is an in-memory LeaseStore.
type memStore struct {
	leases map[string]*state.IPLease
	last   string
}

func newMemStore() *memStore { return &memStore{leases: map[string]*state.IPLease{}} }

func (s *memStore) IPLeases() ([]*state.IPLease, error) {
	var out []*state.IPLease
	for _, l := range s.leases {
		out = append(out, l)
	}
	return out, nil
}
func (s *memStore) PutIPLease(l *state.IPLease) error {
	s.leases[l.PodID], s.last = l, l.IP
	return nil
}
func (s *memStore) DeleteIPLease(id string) error { delete(s.leases, id); return nil }
func (s *memStore) LastLeasedIP() (string, error) { return s.last, nil }

func mustIPAM(t *testing.T, cidr string, store LeaseStore) *IPAM {
	t.Helper()
	_, n, err := net.ParseCIDR(cidr)
	if err != nil {
		t.Fatal(err)
	}
	a, err := NewIPAM(n, store)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestIPAMSkipsReservedAndNeverTwice(t *testing.T) {
	a := mustIPAM(t, "10.42.7.0/29", newMemStore()) // .0 network, .1 gateway, .7 broadcast
	if gw := a.Gateway().String(); gw != "10.42.7.1" {
		t.Fatalf("gateway = %s", gw)
	}
	var got []string
	for _, id := range []string{"a", "b", "c", "d", "e"} {
		ip, err := a.Allocate(id)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, ip.String())
	}
	sort.Strings(got)
	want := []string{"10.42.7.2", "10.42.7.3", "10.42.7.4", "10.42.7.5", "10.42.7.6"}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("allocated %v, want %v", got, want)
		}
	}
	if _, err := a.Allocate("f"); !errors.Is(err, ErrSubnetFull) {
		t.Fatalf("sixth allocation: %v, want ErrSubnetFull", err)
	}
	// A pod that holds an address gets it again.
	again, err := a.Allocate("c")
	if err != nil || again.String() != "10.42.7.4" {
		t.Fatalf("again = %s, %v", again, err)
	}
	if err := a.Release("c"); err != nil {
		t.Fatal(err)
	}
	ip, err := a.Allocate("f")
	if err != nil || ip.String() != "10.42.7.4" {
		t.Fatalf("after release = %s, %v; want the freed address", ip, err)
	}
}

func TestIPAMRoundRobin(t *testing.T) {
	a := mustIPAM(t, "10.42.7.0/24", newMemStore())
	first, _ := a.Allocate("a")
	if err := a.Release("a"); err != nil {
		t.Fatal(err)
	}
	next, _ := a.Allocate("b")
	if next.Equal(first) {
		t.Fatalf("a released address (%s) was reused at once", first)
	}
}

func TestIPAMIgnoresOtherSubnets(t *testing.T) {
	s := newMemStore()
	s.leases["old"] = &state.IPLease{PodID: "old", IP: "10.42.9.2", Subnet: "10.42.9.0/24"}
	a := mustIPAM(t, "10.42.7.0/24", s)
	ip, err := a.Allocate("old")
	if err != nil || !a.Subnet().Contains(ip) {
		t.Fatalf("pod with a lease of another subnet got %s, %v", ip, err)
	}
}

func TestIPAMRejectsBadSubnets(t *testing.T) {
	for _, c := range []string{"10.0.0.0/31", "fd00::/64"} {
		_, n, _ := net.ParseCIDR(c)
		if _, err := NewIPAM(n, newMemStore()); err == nil {
			t.Errorf("NewIPAM(%s) accepted it", c)
		}
	}
}

// The bbolt store: leases and the round-robin cursor survive a reopen.
func TestIPAMPersistsAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	db, err := state.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	a := mustIPAM(t, "10.42.3.0/24", db)
	ipA, _ := a.Allocate("a")
	ipB, _ := a.Allocate("b")
	if err := a.Release("b"); err != nil {
		t.Fatal(err)
	}
	db.Close()

	db, err = state.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	a = mustIPAM(t, "10.42.3.0/24", db)
	again, err := a.Allocate("a")
	if err != nil || !again.Equal(ipA) {
		t.Fatalf("after restart pod a got %s, %v; want %s", again, err, ipA)
	}
	ipC, err := a.Allocate("c")
	if err != nil || ipC.Equal(ipA) || ipC.Equal(ipB) {
		t.Fatalf("after restart pod c got %s, %v (a %s, released b %s)", ipC, err, ipA, ipB)
	}
	leased, _ := a.Leased()
	if len(leased) != 2 || leased["a"] != ipA.String() || leased["c"] != ipC.String() {
		t.Fatalf("leases = %v", leased)
	}
}
