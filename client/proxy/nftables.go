package proxy

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"hash/maphash"
	"slices"
	"sort"
	"strings"

	hclog "github.com/hashicorp/go-hclog"
)

// NFTables writes the rules into the table "ip mk". A partial sync is
// one `nft -f -` transaction: small, and the text is what an operator
// reads back with `nft list table ip mk`. A full sync writes the
// service ports' chains and every element over netlink in one batch
// (see syncFull): at 10,000 services nft's parsing of the text was most
// of the sync.
//
// It remembers a hash of every chain it wrote, so later syncs flush and
// rewrite only the chains that changed; the elements a later sync adds
// and deletes are those of the service ports that came and went (see
// renderCache), so its cost follows the change, not the table. A full
// sync (the first, after a failure, or when asked) lists the table's
// chains and sets to remove what an earlier run left, in the same
// transaction that rewrites the services, so the table and its hooks
// never disappear in between.
type NFTables struct {
	run    Runner
	logger hclog.Logger
	seed   maphash.Seed

	// written is chain name → hash of its body; nil until a full sync
	// succeeded, and after any failure.
	written map[string]uint64
	// hairpins counts, for each hairpin element in the kernel, the
	// service ports whose endpoint it is.
	hairpins map[string]int
	buf      []byte
	out      bytes.Buffer
	ports    renderCache[*nftRules]
	slots    *endpointSlots
	// shardUse counts, for each endpoint map in the kernel, the service
	// ports that use it.
	shardUse map[string]int
	// localnetSet: route_localnet was turned on.
	localnetSet bool
	// lastFull is the last sync's when it was a full one, for LastPayload.
	lastFull *fullSync
}

// fullSync is what a full sync wrote, and what it found.
type fullSync struct {
	want     *nftRules
	existing *nftExisting
}

// NewNFTables returns an nftables writer that runs nft with run
// (ExecRunner{} when nil).
func NewNFTables(run Runner, logger hclog.Logger) *NFTables {
	if run == nil {
		run = ExecRunner{}
	}
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	return &NFTables{run: run, logger: logger.Named("nftables"), seed: maphash.MakeSeed(), slots: newEndpointSlots()}
}

// Mode is ModeNFTables.
func (w *NFTables) Mode() string { return ModeNFTables }

// LastPayload is the last sync as nft text: the transaction it ran, or
// for a full sync, the one nft transaction that writes the same.
func (w *NFTables) LastPayload() []byte {
	if w.lastFull == nil {
		return bytes.Clone(w.out.Bytes())
	}
	var out bytes.Buffer
	writeFull(&out, &SyncResult{}, w.lastFull.want, w.lastFull.existing)
	return out.Bytes()
}

// Sync writes rs; see Writer.
func (w *NFTables) Sync(ctx context.Context, rs *Ruleset, full bool) (SyncResult, error) {
	if !w.localnetSet && rs.Node.LocalhostNodePorts {
		if err := setRouteLocalnet(ctx, w.run); err != nil {
			return SyncResult{}, err
		}
		w.localnetSet = true
	}
	var rd *nftRender
	rd, w.buf = renderNFTablesPorts(rs, w.buf, &w.ports, w.slots)
	full = full || w.written == nil
	res := SyncResult{Full: full}
	w.out.Reset()
	var d chainDiff
	var hairpinDelta, shardDelta map[string]int
	if full {
		existing, err := w.listTable(ctx)
		if err != nil {
			w.written = nil
			return res, err
		}
		want := rd.flatten()
		d = diffChains(w.seed, want.chains, nil)
		if err := w.syncFull(ctx, &res, rd, want, existing); err != nil {
			w.written = nil
			return res, err
		}
		w.lastFull = &fullSync{want: want, existing: existing}
		w.written = d.hashes
		w.hairpins, w.shardUse = countHairpins(rd.ports), countShards(rd.ports)
		return res, nil
	} else {
		d = diffChains(w.seed, rd.chains(), w.written)
		hairpinDelta, shardDelta = w.writePartial(&res, rd, d)
		if w.out.Len() == 0 {
			applyCounts(w.hairpins, hairpinDelta)
			applyCounts(w.shardUse, shardDelta)
			return res, nil
		}
	}
	w.lastFull = nil
	res.Bytes = w.out.Len()
	if err := w.apply(ctx); err != nil {
		w.written = nil
		return res, err
	}
	w.written = d.hashes
	applyCounts(w.hairpins, hairpinDelta)
	applyCounts(w.shardUse, shardDelta)
	return res, nil
}

// apply runs the text transaction in w.out.
func (w *NFTables) apply(ctx context.Context) error {
	if _, err := w.run.Run(ctx, w.out.Bytes(), "nft", "-f", "-"); err != nil {
		return fmt.Errorf("nft -f of %d bytes: %w", w.out.Len(), err)
	}
	return nil
}

// netnsPath is the namespace the writer's programs run in, where its
// netlink socket goes too.
func (w *NFTables) netnsPath() string {
	if r, ok := w.run.(interface{ NetNSPath() string }); ok {
		return r.NetNSPath()
	}
	return ""
}

// countHairpins counts, for each hairpin element, the ports that have it.
func countHairpins(ports []*nftRules) map[string]int {
	n := map[string]int{}
	for _, p := range ports {
		for _, e := range p.elements {
			if e.container == nftHairpin {
				n[e.key]++
			}
		}
	}
	return n
}

// countShards counts, for each endpoint map, the ports that use it.
func countShards(ports []*nftRules) map[string]int {
	n := map[string]int{}
	for _, p := range ports {
		for _, m := range p.shards {
			n[m.name]++
		}
	}
	return n
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

// countTransitions are the keys of counts that delta takes from zero to
// positive (came) and from positive to zero (went), sorted: the objects
// a reference-counted partial sync adds and removes.
func countTransitions(counts, delta map[string]int) (came, went []string) {
	for key, d := range delta {
		switch before, after := counts[key], counts[key]+d; {
		case before <= 0 && after > 0:
			came = append(came, key)
		case before > 0 && after <= 0:
			went = append(went, key)
		}
	}
	slices.Sort(came)
	slices.Sort(went)
	return came, went
}

// applyCounts adds delta to counts, dropping what falls to zero.
func applyCounts(counts, delta map[string]int) {
	for k, d := range delta {
		if counts[k] += d; counts[k] <= 0 {
			delete(counts, k)
		}
	}
}

// nftExisting are the chains, sets and maps of mk's table in the kernel.
type nftExisting struct {
	chains, sets, maps map[string]bool
}

// listTable lists the names of the chains, sets and maps in mk's table;
// none when the table does not exist.
func (w *NFTables) listTable(ctx context.Context) (*nftExisting, error) {
	ex := &nftExisting{chains: map[string]bool{}, sets: map[string]bool{}, maps: map[string]bool{}}
	for _, what := range []string{"chains", "sets", "maps"} {
		out, err := w.run.Run(ctx, nil, "nft", "-t", "list", what, "ip")
		if err != nil {
			return nil, fmt.Errorf("nft list %s: %w", what, err)
		}
		parseNFTList(out, ex)
	}
	return ex, nil
}

// parseNFTList adds the chains, sets and maps of table ip mk in `nft
// list` output to ex.
func parseNFTList(out []byte, ex *nftExisting) {
	sc := bufio.NewScanner(bytes.NewReader(out))
	inMK := false
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "table ") {
			inMK = line == "table "+nftTable+" {"
			continue
		}
		if !inMK {
			continue
		}
		for kind, names := range map[string]map[string]bool{"chain": ex.chains, "set": ex.sets, "map": ex.maps} {
			if name, ok := strings.CutPrefix(line, kind+" "); ok {
				names[strings.TrimSuffix(name, " {")] = true
			}
		}
	}
}

// writePartial writes a transaction of only what changed since the last
// sync, in an order nft accepts: new objects first, then elements that
// go, rewritten chains, elements that come, and last the removal of
// chains and sets nothing refers to any more. The elements and sets are
// those of the ports rendered afresh against those that went. It
// returns the change of the hairpin and endpoint map counts, for Sync to
// apply once the transaction went in.
func (w *NFTables) writePartial(res *SyncResult, rd *nftRender, d chainDiff) (hairpinDelta, shardDelta map[string]int) {
	out := &w.out
	declare, remove, shardDelta := w.shardChanges(rd)
	for _, m := range declare {
		fmt.Fprintf(out, "add map %s %s { %s }\n", nftTable, m.name, m.spec)
	}
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
			out.WriteString("add set " + nftTable + " " + s.name + " { " + s.spec + " }\n")
		}
	}
	var added []*chain
	for _, c := range d.changed {
		if _, ok := w.written[c.name]; !ok {
			added = append(added, c)
		}
	}
	declareChains(out, added)
	gone, come, delta := w.elementChanges(rd)
	res.ElementsDeleted = writeElements(out, "delete", gone)
	for _, c := range d.changed {
		out.WriteString("flush chain " + nftTable + " " + c.name + "\n")
		out.Write(c.body)
	}
	res.ChainsWritten = len(d.changed)
	res.ElementsWritten = writeElements(out, "add", come)
	stale := remove
	for name := range goneSets {
		stale = append(stale, "set "+name)
	}
	res.ChainsDeleted = deleteStale(out, d.removed, stale)
	return delta, shardDelta
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

// declareChains writes "add chain" for chains, with the hook of the base
// chains.
func declareChains(out *bytes.Buffer, chains []*chain) {
	for _, c := range chains {
		if hook, ok := nftBaseChains[c.name]; ok {
			out.WriteString("add chain " + nftTable + " " + c.name + " { " + hook + " }\n")
		} else {
			out.WriteString("add chain " + nftTable + " " + c.name + "\n")
		}
	}
}

// writeElements writes "verb element" statements for elements, one per
// map or set, and returns how many.
func writeElements(out *bytes.Buffer, verb string, elements []*element) int {
	byContainer, containers := groupElements(elements)
	for _, c := range containers {
		out.WriteString(verb + " element " + nftTable + " " + c + " { ")
		for i, e := range byContainer[c] {
			if i > 0 {
				out.WriteString(", ")
			}
			out.WriteString(e.key)
			if e.value != "" && verb == "add" {
				out.WriteString(" : " + e.value)
			}
		}
		out.WriteString(" }\n")
	}
	return len(elements)
}

// groupElements groups elements by their map or set, and names those in
// order.
func groupElements(elements []*element) (byContainer map[string][]*element, containers []string) {
	byContainer = map[string][]*element{}
	for _, e := range elements {
		if _, ok := byContainer[e.container]; !ok {
			containers = append(containers, e.container)
		}
		byContainer[e.container] = append(byContainer[e.container], e)
	}
	sort.Strings(containers)
	return byContainer, containers
}

// deleteStale flushes the stale chains, then deletes them and the stale
// sets and maps, given as "set NAME" or "map NAME" (a chain can only go
// once no rule jumps to it, a set once no rule uses it), and returns how
// many chains went.
func deleteStale(out *bytes.Buffer, chains, sets []string) int {
	sort.Strings(chains)
	sort.Strings(sets)
	for _, name := range chains {
		out.WriteString("flush chain " + nftTable + " " + name + "\n")
	}
	for _, name := range chains {
		out.WriteString("delete chain " + nftTable + " " + name + "\n")
	}
	for _, kindName := range sets {
		kind, name, _ := strings.Cut(kindName, " ")
		out.WriteString("delete " + kind + " " + nftTable + " " + name + "\n")
	}
	return len(chains)
}

// Cleanup deletes mk's table, with all its chains, maps and sets.
func (w *NFTables) Cleanup(ctx context.Context) error {
	w.written = nil
	// "add" first: deleting a table that is not there is an error.
	if _, err := w.run.Run(ctx, []byte("add table "+nftTable+"\ndelete table "+nftTable+"\n"), "nft", "-f", "-"); err != nil {
		return fmt.Errorf("delete table %s: %w", nftTable, err)
	}
	return nil
}
