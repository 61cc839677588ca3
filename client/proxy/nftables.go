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

// NFTables writes the rules into the table "ip mk". Service port chains
// and elements go to the kernel over netlink, one batch per sync (see
// nftables_netlink.go); nft declares the table, its maps and sets and
// writes the chains every node has. At 10,000 services nft's parsing of
// the text was most of a full sync, and nft's start and its reading of
// the table most of a partial one. The text of every sync is still made
// on demand (LastPayload): it is what an operator reads back with `nft
// list table ip mk`, and what the benchmark times a bare `nft -f` of.
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
	// lastText writes the last sync as text, for LastPayload.
	lastText func(out *bytes.Buffer)
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

// LastPayload is the last sync as one nft text transaction: what nft
// would have to read to do what the sync did.
func (w *NFTables) LastPayload() []byte {
	var out bytes.Buffer
	if w.lastText != nil {
		w.lastText(&out)
	}
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
	var res SyncResult
	var err error
	if full || w.written == nil {
		res, err = w.syncAll(ctx, rd)
	} else {
		res, err = w.syncChanges(ctx, rd)
	}
	if err != nil {
		w.written = nil
	}
	return res, err
}

// syncAll rewrites the whole table (see syncFull).
func (w *NFTables) syncAll(ctx context.Context, rd *nftRender) (SyncResult, error) {
	res := SyncResult{Full: true}
	existing, err := w.listTable(ctx)
	if err != nil {
		return res, err
	}
	want := rd.flatten()
	d := diffChains(w.seed, want.chains, nil)
	w.lastText = func(out *bytes.Buffer) { writeFull(out, &SyncResult{}, want, existing) }
	if err := w.syncFull(ctx, &res, rd, want, existing); err != nil {
		return res, err
	}
	w.written = d.hashes
	w.hairpins, w.shardUse = countHairpins(rd.ports), countShards(rd.ports)
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
