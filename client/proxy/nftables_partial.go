package proxy

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
)

// nftChanges is what a partial sync changes since the last sync: the
// chains that changed by their hash, and the elements and sets of the
// ports rendered afresh against those that went. It is applied in two
// steps (see syncChanges) and written as one nft transaction for
// LastPayload (writeChanges).
type nftChanges struct {
	// maps are endpoint maps whose first port came; sets the affinity
	// sets of ports that came.
	maps, sets []nftSet
	// added are the changed chains that are new.
	added, changed []*chain
	gone, come     []*element
	staleChains    []string
	// staleContainers are "set NAME" and "map NAME".
	staleContainers []string
	// hairpinDelta and shardDelta are the change of the writer's counts,
	// applied once the changes went in.
	hairpinDelta, shardDelta map[string]int
}

// declareSets declares the maps and sets that came.
func (c *nftChanges) declareSets(out *bytes.Buffer) {
	for _, m := range c.maps {
		declareSet(out, "map", m)
	}
	for _, s := range c.sets {
		declareSet(out, "set", s)
	}
}

func (c *nftChanges) empty() bool {
	return len(c.maps)+len(c.sets)+len(c.changed)+len(c.gone)+len(c.come)+len(c.staleChains)+len(c.staleContainers) == 0
}

// partialChanges finds what changed since the last sync.
func (w *NFTables) partialChanges(rd *nftRender, d chainDiff) *nftChanges {
	c := &nftChanges{changed: d.changed, staleChains: d.removed}
	var removedMaps []string
	c.maps, removedMaps, c.shardDelta = w.shardChanges(rd)
	goneSets := map[string]bool{}
	for _, p := range rd.gone {
		for _, s := range p.sets {
			goneSets[s.name] = true
		}
	}
	for _, p := range rd.fresh {
		for _, s := range p.sets {
			if goneSets[s.name] {
				delete(goneSets, s.name) // the same port's set, kept
				continue
			}
			c.sets = append(c.sets, s)
		}
	}
	for _, ch := range d.changed {
		if _, ok := w.written[ch.name]; !ok {
			c.added = append(c.added, ch)
		}
	}
	c.gone, c.come, c.hairpinDelta = w.elementChanges(rd)
	c.staleContainers = removedMaps
	for name := range goneSets {
		c.staleContainers = append(c.staleContainers, "set "+name)
	}
	slices.Sort(c.staleChains)
	slices.Sort(c.staleContainers)
	return c
}

// syncChanges writes what changed since the last sync. New maps and sets
// are declared by nft (empty, so nothing sees them yet), with any
// changed chain that has no statements (the fixed chains, which change
// only with the node's settings); everything else goes in one netlink
// batch, in the order the text has: new chains, elements that go,
// rewritten chains, elements that come, and last what nothing refers to
// any more. nft's process and its reading of the table's cache were
// most of a one-endpoint change (46 ms bare at 10,000 services).
func (w *NFTables) syncChanges(ctx context.Context, rd *nftRender) (SyncResult, error) {
	d := diffChains(w.seed, rd.chains(), w.written)
	c := w.partialChanges(rd, d)
	w.lastText = func(out *bytes.Buffer) { writeChanges(out, c) }
	res := SyncResult{ChainsWritten: len(c.changed), ChainsDeleted: len(c.staleChains),
		ElementsWritten: len(c.come), ElementsDeleted: len(c.gone)}
	if !c.empty() {
		w.out.Reset()
		b := w.changesBatch(c)
		res.Bytes = w.out.Len() + b.size
		if w.out.Len() > 0 {
			if err := w.apply(ctx); err != nil {
				return res, err
			}
		}
		if err := sendBatch(w.netnsPath(), b); err != nil {
			return res, fmt.Errorf("partial sync of %d chains and %d elements: %w", res.ChainsWritten, res.ElementsWritten+res.ElementsDeleted, err)
		}
	}
	w.written = d.hashes
	applyCounts(w.hairpins, c.hairpinDelta)
	applyCounts(w.shardUse, c.shardDelta)
	return res, nil
}

// changesBatch writes the declarations and the fixed chains of c into
// w.out and returns the rest as a netlink batch.
func (w *NFTables) changesBatch(c *nftChanges) *nlBatch {
	c.declareSets(&w.out)
	b := &nlBatch{}
	var fixed []*chain
	for _, ch := range c.added {
		if ch.stmts == nil {
			fixed = append(fixed, ch)
		} else {
			b.addChain(ch.name)
		}
	}
	declareChains(&w.out, fixed)
	b.deleteElements(c.gone)
	for _, ch := range c.changed {
		if ch.stmts == nil {
			w.out.WriteString("flush chain " + nftTable + " " + ch.name + "\n")
			w.out.Write(ch.body)
			continue
		}
		b.writeChain(ch, true)
	}
	b.addElements(c.come)
	b.deleteStale(c.staleChains, c.staleContainers)
	return b
}

// writeChanges writes c as one nft transaction, in the order nft
// accepts: new objects first, then elements that go, rewritten chains,
// elements that come, and last the removal of chains and sets nothing
// refers to any more.
func writeChanges(out *bytes.Buffer, c *nftChanges) {
	c.declareSets(out)
	declareChains(out, c.added)
	writeElements(out, "delete", c.gone)
	for _, ch := range c.changed {
		out.WriteString("flush chain " + nftTable + " " + ch.name + "\n")
		out.Write(ch.body)
	}
	writeElements(out, "add", c.come)
	deleteStale(out, c.staleChains, c.staleContainers)
}

// shardChanges are the endpoint maps a partial sync declares (their
// first port came) and deletes (their last port went), and the change
// of their use counts.
func (w *NFTables) shardChanges(rd *nftRender) (declare []nftSet, remove []string, delta map[string]int) {
	delta = map[string]int{}
	specs := map[string]nftSet{}
	for _, p := range rd.gone {
		for _, m := range p.shards {
			delta[m.name]--
		}
	}
	for _, p := range rd.fresh {
		for _, m := range p.shards {
			delta[m.name]++
			specs[m.name] = m
		}
	}
	came, went := countTransitions(w.shardUse, delta)
	for _, name := range came {
		declare = append(declare, specs[name])
	}
	for _, name := range went {
		remove = append(remove, "map "+name)
	}
	return declare, remove, delta
}

// elementChanges are the elements to delete and to add for the ports
// that went and came: an element both went and came with the same value
// stays; a hairpin element goes when the last port that had it went,
// comes when the first does.
func (w *NFTables) elementChanges(rd *nftRender) (gone, come []*element, hairpinDelta map[string]int) {
	goneByID := map[string]*element{}
	hairpinDelta = map[string]int{}
	hairpinElement := map[string]*element{}
	for _, p := range rd.gone {
		for _, e := range p.elements {
			if e.container == nftHairpin {
				hairpinDelta[e.key]--
				hairpinElement[e.key] = e
				continue
			}
			goneByID[e.id] = e
		}
	}
	for _, p := range rd.fresh {
		for _, e := range p.elements {
			if e.container == nftHairpin {
				hairpinDelta[e.key]++
				hairpinElement[e.key] = e
				continue
			}
			if old, ok := goneByID[e.id]; ok && old.value == e.value {
				delete(goneByID, e.id)
				continue
			}
			come = append(come, e)
		}
	}
	for _, e := range goneByID {
		gone = append(gone, e)
	}
	came, went := countTransitions(w.hairpins, hairpinDelta)
	for _, key := range came {
		come = append(come, hairpinElement[key])
	}
	for _, key := range went {
		gone = append(gone, hairpinElement[key])
	}
	byID := func(a, b *element) int { return strings.Compare(a.id, b.id) }
	slices.SortFunc(gone, byID)
	slices.SortFunc(come, byID)
	return gone, come, hairpinDelta
}
