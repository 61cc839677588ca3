package proxy

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"hash/maphash"
	"sort"
	"strings"

	hclog "github.com/hashicorp/go-hclog"
)

// IPTables writes the rules with iptables-restore --noflush: one atomic
// restore of the nat and filter tables per sync. It remembers a hash of
// every chain it wrote, so later syncs rewrite only the chains whose
// rules changed and delete the chains that are no longer wanted. A full
// sync (the first, after a failure, or when asked) reads iptables-save to
// find mk's chains left by an earlier run and the jump rules already in
// place; it never flushes a chain that is not mk's.
type IPTables struct {
	run    Runner
	logger hclog.Logger
	seed   maphash.Seed

	// written is key (table/chain) → hash of the body last written; nil
	// until a full sync succeeded, and after any failure.
	written map[string]uint64
	buf     []byte
	out     bytes.Buffer
	ports   renderCache[[]*chain]
	// localnetSet: route_localnet was turned on.
	localnetSet bool
}

// NewIPTables returns an iptables writer that runs its programs with run
// (ExecRunner{} when nil).
func NewIPTables(run Runner, logger hclog.Logger) *IPTables {
	if run == nil {
		run = ExecRunner{}
	}
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	return &IPTables{run: run, logger: logger.Named("iptables"), seed: maphash.MakeSeed()}
}

// Mode is ModeIPTables.
func (w *IPTables) Mode() string { return ModeIPTables }

// Sync writes rs; see Writer.
func (w *IPTables) Sync(ctx context.Context, rs *Ruleset, full bool) (SyncResult, error) {
	if err := w.ensureLocalnet(ctx, rs); err != nil {
		return SyncResult{}, err
	}
	var want []*chain
	want, w.buf = renderIPTables(rs, w.buf, &w.ports)
	full = full || w.written == nil
	var existing *iptState
	if full {
		var err error
		if existing, err = w.readState(ctx); err != nil {
			w.written = nil
			return SyncResult{Full: true}, err
		}
	}
	d := diffChains(w.seed, want, w.written)
	res := SyncResult{Full: full}
	w.out.Reset()
	if full {
		res.ChainsWritten, res.ChainsDeleted = writeFullRestore(&w.out, want, existing)
	} else {
		res.ChainsWritten, res.ChainsDeleted = writePartialRestore(&w.out, d)
		if res.ChainsWritten+res.ChainsDeleted == 0 {
			return res, nil
		}
	}
	res.Bytes = w.out.Len()
	if _, err := w.run.Run(ctx, w.out.Bytes(), "iptables-restore", "-w", "5", "--noflush"); err != nil {
		w.written = nil
		return res, fmt.Errorf("iptables-restore of %d bytes: %w", res.Bytes, err)
	}
	w.written = d.hashes
	return res, nil
}

// LastPayload is a copy of the last restore input Sync ran.
func (w *IPTables) LastPayload() []byte { return bytes.Clone(w.out.Bytes()) }

// ensureLocalnet turns on route_localnet once, so NodePorts answer on
// 127.0.0.1 (Linux otherwise drops packets from 127/8 that leave lo).
func (w *IPTables) ensureLocalnet(ctx context.Context, rs *Ruleset) error {
	if w.localnetSet || !rs.Node.LocalhostNodePorts {
		return nil
	}
	if err := setRouteLocalnet(ctx, w.run); err != nil {
		return err
	}
	w.localnetSet = true
	return nil
}

func setRouteLocalnet(ctx context.Context, run Runner) error {
	if _, err := run.Run(ctx, nil, "sysctl", "-q", "-w", "net.ipv4.conf.all.route_localnet=1"); err != nil {
		return fmt.Errorf("enable route_localnet for NodePorts on 127.0.0.1: %w", err)
	}
	return nil
}

// iptState is what iptables-save shows of mk in the kernel.
type iptState struct {
	// chains are the keys (table/chain) of mk's chains.
	chains map[string]bool
	// jumps are the iptJumps present, by "table/from/to".
	jumps map[string]bool
	// jumpRules are the rules of built-in chains that jump to one of
	// mk's, as iptables-save prints them, by table: Cleanup deletes
	// each (two clients in one namespace, in tests, may both have added
	// a jump).
	jumpRules map[string][]string
}

// readState reads mk's chains and jumps from iptables-save.
func (w *IPTables) readState(ctx context.Context) (*iptState, error) {
	st := &iptState{chains: map[string]bool{}, jumps: map[string]bool{}, jumpRules: map[string][]string{}}
	for _, table := range []string{"filter", "nat"} {
		out, err := w.run.Run(ctx, nil, "iptables-save", "-t", table)
		if err != nil {
			return nil, fmt.Errorf("iptables-save -t %s: %w", table, err)
		}
		parseSave(table, out, st)
	}
	return st, nil
}

// parseSave adds mk's chains and jump rules in one table's iptables-save
// output to st.
func parseSave(table string, out []byte, st *iptState) {
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		if name, ok := strings.CutPrefix(line, ":"); ok {
			name, _, _ = strings.Cut(name, " ")
			if isProxyChain(name) {
				st.chains[table+"/"+name] = true
			}
			continue
		}
		if strings.HasPrefix(line, "-A "+iptChainPrefix) || !strings.HasPrefix(line, "-A ") {
			continue
		}
		if i := strings.LastIndex(line, " -j "); i >= 0 && isProxyChain(line[i+len(" -j "):]) && st.jumpRules != nil {
			st.jumpRules[table] = append(st.jumpRules[table], line)
		}
		for _, j := range iptJumps {
			if j.table == table && strings.HasPrefix(line, "-A "+j.from+" ") && strings.HasSuffix(line, " -j "+j.to) {
				st.jumps[j.table+"/"+j.from+"/"+j.to] = true
			}
		}
	}
}

// isProxyChain reports whether a chain is the proxy's: the pod network
// keeps chains of its own under the same MK- prefix (MK-POD-MASQ,
// MK-HOSTPORTS, ...), which the proxy must never flush or delete.
func isProxyChain(name string) bool {
	switch name {
	case iptServices, iptNodePorts, iptMarkMasq, iptPostrouting, iptForward, iptFirewall:
		return true
	}
	return strings.HasPrefix(name, iptSvcPrefix) || strings.HasPrefix(name, iptSepPrefix)
}

// writeFullRestore writes a restore of every wanted chain, the flush and
// removal of mk's chains that are no longer wanted, and the jump rules
// that are missing. It returns the chains written and deleted.
func writeFullRestore(out *bytes.Buffer, want []*chain, st *iptState) (written, deleted int) {
	wanted := make(map[string]bool, len(want))
	for _, c := range want {
		wanted[c.key()] = true
	}
	var stale []string
	for k := range st.chains {
		if !wanted[k] {
			stale = append(stale, k)
		}
	}
	sort.Strings(stale)
	for _, table := range []string{"filter", "nat"} {
		fmt.Fprintf(out, "*%s\n", table)
		declare(out, table, want, stale)
		for _, j := range iptJumps {
			if j.table == table && !st.jumps[j.table+"/"+j.from+"/"+j.to] {
				fmt.Fprintf(out, "-I %s %s -j %s\n", j.from, j.spec, j.to)
			}
		}
		for _, c := range want {
			if c.table == table {
				out.Write(c.body)
				written++
			}
		}
		deleted += deleteChains(out, table, stale)
		out.WriteString("COMMIT\n")
	}
	return written, deleted
}

// writePartialRestore writes a restore of the changed chains and the
// removal of the removed ones; nothing for a table without changes.
func writePartialRestore(out *bytes.Buffer, d chainDiff) (written, deleted int) {
	sort.Strings(d.removed)
	for _, table := range []string{"filter", "nat"} {
		n := 0
		for _, c := range d.changed {
			if c.table == table {
				n++
			}
		}
		gone := keysOfTable(d.removed, table)
		if n == 0 && len(gone) == 0 {
			continue
		}
		fmt.Fprintf(out, "*%s\n", table)
		declare(out, table, d.changed, d.removed)
		for _, c := range d.changed {
			if c.table == table {
				out.Write(c.body)
			}
		}
		written += n
		deleted += deleteChains(out, table, d.removed)
		out.WriteString("COMMIT\n")
	}
	return written, deleted
}

// declare writes a ":CHAIN - [0:0]" line, which creates or flushes the
// chain, for every chain of table in chains and in the keys of stale.
func declare(out *bytes.Buffer, table string, chains []*chain, stale []string) {
	for _, c := range chains {
		if c.table == table {
			out.WriteString(":" + c.name + " - [0:0]\n")
		}
	}
	for _, name := range keysOfTable(stale, table) {
		out.WriteString(":" + name + " - [0:0]\n")
	}
}

// deleteChains writes "-X" for the chains of table among keys (declared,
// so flushed, earlier in the same restore) and returns how many.
func deleteChains(out *bytes.Buffer, table string, keys []string) int {
	names := keysOfTable(keys, table)
	for _, name := range names {
		out.WriteString("-X " + name + "\n")
	}
	return len(names)
}

// keysOfTable returns the chain names of the keys (table/chain) in table.
func keysOfTable(keys []string, table string) []string {
	var names []string
	for _, k := range keys {
		if name, ok := strings.CutPrefix(k, table+"/"); ok {
			names = append(names, name)
		}
	}
	return names
}

// Cleanup removes the jump rules and every MK- chain of both tables in
// one restore.
func (w *IPTables) Cleanup(ctx context.Context) error {
	st, err := w.readState(ctx)
	if err != nil {
		return err
	}
	var keys []string
	for k := range st.chains {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var out bytes.Buffer
	for _, table := range []string{"filter", "nat"} {
		fmt.Fprintf(&out, "*%s\n", table)
		for _, rule := range st.jumpRules[table] {
			fmt.Fprintf(&out, "-D %s\n", strings.TrimPrefix(rule, "-A "))
		}
		declare(&out, table, nil, keys)
		deleteChains(&out, table, keys)
		out.WriteString("COMMIT\n")
	}
	if _, err := w.run.Run(ctx, out.Bytes(), "iptables-restore", "-w", "5", "--noflush"); err != nil {
		return fmt.Errorf("remove mk's iptables rules: %w", err)
	}
	w.written = nil
	return nil
}
