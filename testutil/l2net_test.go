package testutil

import "testing"

func TestL2NetHostsReachEachOther(t *testing.T) {
	n := NewL2Net(t, 7)
	a, b := n.AddHost(1), n.AddHost(2)
	if out, err := a.Exec("ping", "-c1", "-W2", b.IP); err != nil {
		t.Fatalf("ping %s from %s: %v\n%s", b.IP, a.NS, err, out)
	}
	b.Partition()
	if _, err := a.Exec("ping", "-c1", "-W1", b.IP); err == nil {
		t.Fatal("partitioned host answered")
	}
	b.Heal()
	if out, err := a.Exec("ping", "-c1", "-W2", b.IP); err != nil {
		t.Fatalf("after heal: %v\n%s", err, out)
	}
}
