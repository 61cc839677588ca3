package state

// Change is one write that the event stream carries: an object written
// to (or deleted from) a table of changeTables, or a controller's decision
// (Table TableJobEvents, Object a *structs.JobEvent).
type Change struct {
	Table string
	// Index is the Raft index of the command that made the change.
	Index   uint64
	Object  any
	Deleted bool
}

// changeTables are the tables whose writes a WriteTxn records for the
// event stream. The others (versions, replica sets, endpoints, ...) are
// derived from these or internal.
var changeTables = map[string]bool{
	TableJobs:        true,
	TablePods:        true,
	TableDeployments: true,
	TableNodes:       true,
}

// track records a write to table if the event stream carries it.
func (t *WriteTxn) track(table string, obj any, deleted bool) {
	if changeTables[table] {
		t.changes = append(t.changes, Change{Table: table, Index: t.index, Object: obj, Deleted: deleted})
	}
}

// Changes returns what the transaction wrote that the event stream
// carries, in the order the commands wrote it (so by index). Objects are
// the stored ones: readers must not change them.
func (t *WriteTxn) Changes() []Change { return t.changes }
