package proxy

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestNFTablesNetlinkMatchesText makes, for every case of the golden
// files, mk's table once from the text of a full sync applied by nft and
// once by a full sync (whose service port objects go over netlink), and
// compares the two: what nft lists, and the bytecode of every rule. It
// then turns each table into the next case's with another full sync over
// the existing one, which must flush, rewrite and remove exactly as the
// text does.
func TestNFTablesNetlinkMatchesText(t *testing.T) {
	requireTools(t, "nft", "sysctl")
	cases := computeCases()
	viaNetlink := newTestNS(t)
	w := NewNFTables(viaNetlink.run, nil)
	for _, tc := range cases {
		rs := Compute(tc.services, tc.endpoints, tc.node)
		res := mustSync(t, w, rs, true)

		// The same table made in a fresh namespace by nft alone.
		viaText := newTestNS(t)
		var text bytes.Buffer
		want, _ := renderNFTables(rs, nil, nil, w.slots.clone()) // the writer's slots
		writeFull(&text, &SyncResult{}, want, &nftExisting{})
		if _, err := viaText.run.Run(context.Background(), text.Bytes(), "nft", "-f", "-"); err != nil {
			t.Fatalf("%s: nft -f of the full sync's text: %v\n%s", tc.name, err, text.Bytes())
		}
		if diff := cmp.Diff(nftTableState(t, viaText), nftTableState(t, viaNetlink)); diff != "" {
			t.Fatalf("%s: the table written over netlink (%+v) differs from nft's (-nft +netlink):\n%s", tc.name, res, diff)
		}
		if diff := cmp.Diff(nftBytecode(t, viaText), nftBytecode(t, viaNetlink)); diff != "" {
			t.Fatalf("%s: the rules' bytecode differs (-nft +netlink):\n%s", tc.name, diff)
		}
	}
}

// nftBytecode is the expressions of every rule in mk's table, as `nft
// --debug=netlink` prints them, by chain in order, without handles.
func nftBytecode(t *testing.T, ns *testNS) map[string][]string {
	t.Helper()
	out := ns.sh(t, "nft", "--debug=netlink", "list", "table", "ip", "mk")
	rules := map[string][]string{}
	var rule []string
	chainName := ""
	flush := func() {
		if chainName != "" {
			rules[chainName] = append(rules[chainName], strings.Join(rule, "\n"))
		}
		chainName, rule = "", nil
	}
	for _, line := range strings.Split(out, "\n") {
		switch fields := strings.Fields(line); {
		case len(fields) >= 3 && fields[0] == "ip" && fields[1] == "mk":
			flush()
			chainName = fields[2]
		case chainName != "" && strings.HasPrefix(strings.TrimSpace(line), "["):
			rule = append(rule, strings.TrimSpace(line))
		default:
			flush()
		}
	}
	flush()
	if len(rules) == 0 {
		t.Fatalf("no rules in the bytecode listing:\n%s", out)
	}
	return rules
}

// TestNetlinkBatchIsAllOrNothing sends a batch whose last message names
// a chain that does not exist: the send must fail with the kernel's
// error, not hang, and the chain the batch made first must not be there.
func TestNetlinkBatchIsAllOrNothing(t *testing.T) {
	requireTools(t, "nft")
	ns := newTestNS(t)
	ns.sh(t, "nft", "add table "+nftTable)
	b := &nlBatch{}
	b.addChain("made-first")
	b.flushChain("not-there")
	err := sendBatch(ns.run.(ExecRunner).NetNS, b)
	if err == nil || !strings.Contains(err.Error(), "no such file or directory") {
		t.Fatalf("send: %v, want the kernel's ENOENT", err)
	}
	if listing := ns.sh(t, "nft", "list", "table", "ip", "mk"); strings.Contains(listing, "made-first") {
		t.Fatalf("the failed batch left a chain behind:\n%s", listing)
	}
	// The same socket path works for a good batch.
	b = &nlBatch{}
	b.addChain("made-first")
	if err := sendBatch(ns.run.(ExecRunner).NetNS, b); err != nil {
		t.Fatal(err)
	}
	if listing := ns.sh(t, "nft", "list", "table", "ip", "mk"); !strings.Contains(listing, "chain made-first") {
		t.Fatalf("the good batch made no chain:\n%s", listing)
	}
}
