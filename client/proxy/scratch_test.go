package proxy

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"testing"
	"time"
)

func TestScratchRealFull(t *testing.T) {
	svcs, eps := fixture(10000, 10)
	for i, e := range eps {
		for j, x := range e.Endpoints {
			k := i*10 + j + 1
			x.IP = fmt.Sprintf("10.%d.%d.%d", 42+(k>>16), (k>>8)&255, k&255)
		}
	}
	node := testNode
	node.PodCIDR = "10.42.0.0/24"
	ns := newTestNS(t)
	t0 := time.Now()
	rs := newPortCache().compute(svcs, eps, node)
	t1 := time.Now()
	w := NewNFTables(ns.run, nil)
	if _, err := w.Sync(context.Background(), rs, true); err != nil {
		t.Fatal(err)
	}
	t2 := time.Now()
	os.WriteFile("/tmp/full10k.nft", w.LastPayload(), 0o644)
	ns2 := newTestNS(t)
	t3 := time.Now()
	out, err := exec.Command("nsenter", "--net=/run/netns/"+ns2.name, "nft", "-f", "/tmp/full10k.nft").CombinedOutput()
	if err != nil {
		t.Fatal(err, string(out))
	}
	t.Logf("compute %v sync %v bare %v", t1.Sub(t0), t2.Sub(t1), time.Since(t3))
}
