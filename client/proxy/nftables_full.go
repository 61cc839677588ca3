package proxy

import (
	"bytes"
	"context"
	"fmt"
	"sort"
	"strings"
)

// syncFull rebuilds the table in two transactions. The first, nft text,
// declares the table and its maps and sets (add is a no-op for what
// exists) and rewrites the chains every node has; what it changes in a
// table that is already right is nothing. The second, one netlink batch,
// replaces every service port's chains and every element and removes
// what is no longer wanted, all at once: no packet sees a service half
// written, and the first transaction's cost does not grow with the
// services.
func (w *NFTables) syncFull(ctx context.Context, res *SyncResult, rd *nftRender, want *nftRules, ex *nftExisting) error {
	w.out.Reset()
	w.writeFixed(rd.fixed.chains, want, ex)
	if err := w.apply(ctx); err != nil {
		return err
	}
	b := portBatch(res, rd, want, ex)
	res.Bytes = w.out.Len() + b.size
	if err := sendBatch(w.netnsPath(), b); err != nil {
		return fmt.Errorf("full sync of %d chains and %d elements: %w", res.ChainsWritten, res.ElementsWritten, err)
	}
	return nil
}

// writeFull writes, into out, one transaction that rebuilds the whole
// table in place: declare everything (add is a no-op for what exists),
// flush and refill every chain, map and set, then remove what is no
// longer wanted. It is the text form of what syncFull does in two
// steps: what LastPayload gives for a full sync, and the golden files.
func writeFull(out *bytes.Buffer, res *SyncResult, want *nftRules, ex *nftExisting) {
	writeDeclarations(out, want, true)
	declareChains(out, want.chains)
	writeChainBodies(out, want.chains, ex)
	res.ChainsWritten = len(want.chains)
	res.ElementsWritten = writeElements(out, "add", want.elements)
	chains, containers := staleObjects(want, ex)
	res.ChainsDeleted = deleteStale(out, chains, containers)
}

// writeFixed writes the text half of a full sync (see syncFull): the
// declarations, and the fixed chains rewritten.
func (w *NFTables) writeFixed(fixed []*chain, want *nftRules, ex *nftExisting) {
	writeDeclarations(&w.out, want, false)
	declareChains(&w.out, fixed)
	writeChainBodies(&w.out, fixed, ex)
}

// writeDeclarations declares the table and the maps and sets want uses;
// with flush, empties them too.
func writeDeclarations(out *bytes.Buffer, want *nftRules, flush bool) {
	out.WriteString("add table " + nftTable + "\n")
	declare := func(kind, name, spec string) {
		declareSet(out, kind, nftSet{name: name, spec: spec})
		if flush {
			fmt.Fprintf(out, "flush %s %s %s\n", kind, nftTable, name)
		}
	}
	for _, c := range nftContainers {
		declare(c.kind, c.name, c.spec)
	}
	for _, s := range want.sets {
		declareSet(out, "set", s)
	}
	for _, m := range want.shards {
		declare("map", m.name, m.spec)
	}
}

// declareSet writes "add set" or "add map" for one set of mk's own.
func declareSet(out *bytes.Buffer, kind string, s nftSet) {
	fmt.Fprintf(out, "add %s %s %s { %s }\n", kind, nftTable, s.name, s.spec)
}

// writeChainBodies writes the rules of chains, flushing those that exist.
func writeChainBodies(out *bytes.Buffer, chains []*chain, ex *nftExisting) {
	for _, c := range chains {
		// A chain this transaction makes is empty: flushing it would only
		// cost nft a lookup.
		if ex.chains[c.name] {
			out.WriteString("flush chain " + nftTable + " " + c.name + "\n")
		}
		out.Write(c.body)
	}
}

// portBatch is the netlink half of a full sync (see syncFull): every
// map and set flushed and refilled, every service port chain written,
// and what is no longer wanted removed.
func portBatch(res *SyncResult, rd *nftRender, want *nftRules, ex *nftExisting) *nlBatch {
	b := &nlBatch{}
	for _, c := range nftContainers {
		b.flushSet(c.name)
	}
	for _, m := range want.shards {
		b.flushSet(m.name)
	}
	// Every chain is declared before any rule: a NodePort's chain jumps
	// to its service's, which comes after it.
	for _, p := range rd.ports {
		for _, c := range p.chains {
			if !ex.chains[c.name] {
				b.addChain(c.name)
			}
		}
	}
	for _, p := range rd.ports {
		for _, c := range p.chains {
			b.writeChain(c, ex.chains[c.name])
		}
	}
	res.ChainsWritten = len(want.chains)
	b.addElements(want.elements)
	res.ElementsWritten = len(want.elements)
	chains, containers := staleObjects(want, ex)
	b.deleteStale(chains, containers)
	res.ChainsDeleted = len(chains)
	return b
}

// staleObjects are the chains, and the affinity sets and endpoint maps
// (as "set NAME" and "map NAME"), in the kernel that want does not have,
// sorted.
func staleObjects(want *nftRules, ex *nftExisting) (chains, containers []string) {
	wantChains := make(map[string]bool, len(want.chains))
	for _, c := range want.chains {
		wantChains[c.name] = true
	}
	wantContainers := map[string]bool{}
	for _, s := range want.sets {
		wantContainers[s.name] = true
	}
	for _, m := range want.shards {
		wantContainers[m.name] = true
	}
	for name := range ex.chains {
		if !wantChains[name] {
			chains = append(chains, name)
		}
	}
	for name := range ex.sets {
		if !wantContainers[name] && strings.HasPrefix(name, nftAffinityPrefix) {
			containers = append(containers, "set "+name)
		}
	}
	for name := range ex.maps {
		if !wantContainers[name] && strings.HasPrefix(name, nftEndpointsPrefix) {
			containers = append(containers, "map "+name)
		}
	}
	sort.Strings(chains)
	sort.Strings(containers)
	return chains, containers
}
