package proxy

import (
	"fmt"
	"os"
	"testing"
)

func TestScratchDump(t *testing.T) {
	svcs, eps := fixture(10000, 10)
	for i, e := range eps {
		for j, x := range e.Endpoints {
			k := i*10 + j + 1
			x.IP = fmt.Sprintf("10.%d.%d.%d", 42+(k>>16), (k>>8)&255, k&255)
		}
	}
	rs := Compute(svcs, eps, testNode)
	want, _ := renderNFTables(rs, nil, nil)
	w := NewNFTables(nil, nil)
	var res SyncResult
	w.writeFull(&res, want, &nftExisting{})
	os.WriteFile("/tmp/nft10k.nft", w.out.Bytes(), 0o644)
	rules, _ := renderIPTables(rs, nil, nil)
	_ = rules
}
