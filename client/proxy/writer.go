package proxy

import (
	"context"
	"hash/maphash"
	"strconv"
)

// Proxy modes, as the client's network block names them.
const (
	ModeIPTables = "iptables"
	ModeNFTables = "nftables"
)

// Writer makes one backend's rules match a Ruleset. Sync and Cleanup are
// not safe for concurrent use: the Proxy calls them from one goroutine.
type Writer interface {
	// Mode is ModeIPTables or ModeNFTables.
	Mode() string
	// Sync writes rs in one atomic transaction. After the first sync only
	// what changed since the last successful one is written, unless full
	// is set or the last sync failed. It never removes a rule that is not
	// mk's.
	Sync(ctx context.Context, rs *Ruleset, full bool) (SyncResult, error)
	// Cleanup removes all of mk's rules (when the proxy is switched off or
	// to the other mode).
	Cleanup(ctx context.Context) error
}

// SyncResult says what one sync wrote.
type SyncResult struct {
	// Full: everything was rewritten, not only what changed.
	Full bool
	// ChainsWritten and ChainsDeleted count the chains the transaction
	// (re)wrote and removed; ElementsWritten and ElementsDeleted the map
	// and set elements (nftables).
	ChainsWritten, ChainsDeleted     int
	ElementsWritten, ElementsDeleted int
	// Bytes is the size of the transaction; 0 when nothing changed and
	// nothing was run.
	Bytes int
}

// chain is the rendered body of one of mk's chains: its rules, one a
// line, in the backend's syntax.
type chain struct {
	// table is "nat" or "filter" for iptables, "" for nftables.
	table string
	name  string
	body  []byte
	// hash is the body's, once diffChains has taken it (0 before): a
	// chain kept in a renderCache is hashed once, not at every sync.
	hash uint64
	// stmts are the rules of an nftables service port chain as
	// statements, for a full sync over netlink; nil for other chains.
	stmts [][]nftStmt
}

// renderCache keeps what a writer rendered for each service port, by
// pointer: the proxy's port cache hands over the same *ServicePort for
// as long as the service and its endpoints are unchanged, so a sync
// renders only the ports that changed. What it keeps must not share
// memory with buffers the writer reuses.
type renderCache[T any] struct {
	prev, next map[*ServicePort]T
	fresh      []T
}

// get returns sp's rendering from the last sync or a new one.
func (c *renderCache[T]) get(sp *ServicePort, render func() T) T {
	if c.next == nil {
		c.next = map[*ServicePort]T{}
	}
	v, ok := c.prev[sp]
	if !ok {
		v = render()
		c.fresh = append(c.fresh, v)
	}
	c.next[sp] = v
	return v
}

// done ends a sync and returns the renderings it made (fresh) and those
// of the last sync it did not ask for (gone), which it forgets: together
// they are what changed.
func (c *renderCache[T]) done() (fresh, gone []T) {
	for sp, v := range c.prev {
		if _, ok := c.next[sp]; !ok {
			gone = append(gone, v)
		}
	}
	fresh, c.fresh = c.fresh, nil
	c.prev, c.next = c.next, nil
	return fresh, gone
}

// key is "table/name" for iptables, the name alone for nftables.
func (c *chain) key() string {
	if c.table == "" {
		return c.name
	}
	return c.table + "/" + c.name
}

// chainDiff compares rendered chains with the hashes of what was last
// written: which to (re)write and which existed and are gone.
type chainDiff struct {
	changed []*chain
	removed []string // keys of chains no longer wanted
	hashes  map[string]uint64
}

// diffChains returns the chains of want whose body is new or changed
// against written (key → hash of the body last written), the keys of
// written that want lacks, and the hashes of want.
func diffChains(seed maphash.Seed, want []*chain, written map[string]uint64) chainDiff {
	d := chainDiff{hashes: make(map[string]uint64, len(want))}
	for _, c := range want {
		if c.hash == 0 {
			c.hash = maphash.Bytes(seed, c.body)
		}
		h := c.hash
		k := c.key()
		d.hashes[k] = h
		if old, ok := written[k]; !ok || old != h {
			d.changed = append(d.changed, c)
		}
	}
	for k := range written {
		if _, ok := d.hashes[k]; !ok {
			d.removed = append(d.removed, k)
		}
	}
	return d
}

// probability is 1/n with ten decimals, the form iptables' statistic
// match and kube-proxy print.
func probability(n int) string {
	return strconv.FormatFloat(1/float64(n), 'f', 10, 64)
}
