package state

import (
	"fmt"

	memdb "github.com/hashicorp/go-memdb"

	"github.com/mk-orchestrator/mk/structs"
)

// Table names.
const (
	TableIndex       = "index"
	TableJobs        = "jobs"
	TableJobVersions = "job_versions"
	TableDeployments = "deployments"
	TableReplicaSets = "replicasets"
	TableServices    = "services"
	TableAutoscalers = "autoscalers"
	TableIngresses   = "ingresses"
	TableNodes       = "nodes"
	TablePods        = "pods"
	// TableEndpoints holds each service's endpoints, keyed like services
	// by (namespace, service ID).
	TableEndpoints = "endpoints"
)

// Index names.
const (
	IndexID       = "id"
	IndexJob      = "job"
	IndexNode     = "node"
	IndexReported = "reported"
	IndexUnplaced = "unplaced"
)

// IndexEntry records the Raft index of a table's last write.
type IndexEntry struct {
	Key   string
	Value uint64
}

// tableTypes maps every table to a constructor of the type it stores. The
// snapshot code walks it; a table missing here fails the round-trip test.
var tableTypes = map[string]func() any{
	TableIndex:       func() any { return new(IndexEntry) },
	TableJobs:        func() any { return new(structs.Job) },
	TableJobVersions: func() any { return new(structs.Job) },
	TableDeployments: func() any { return new(structs.Deployment) },
	TableReplicaSets: func() any { return new(structs.ReplicaSet) },
	TableServices:    func() any { return new(structs.Service) },
	TableAutoscalers: func() any { return new(structs.Autoscaler) },
	TableIngresses:   func() any { return new(structs.Ingress) },
	TableNodes:       func() any { return new(structs.Node) },
	TablePods:        func() any { return new(structs.Pod) },
	TableEndpoints:   func() any { return new(structs.Endpoints) },
	TableJobEvents:   func() any { return new(structs.JobEvents) },
}

// objectTables are the tables of objects derived from jobs, by kind.
var objectTables = map[string]string{
	structs.KindDeployment: TableDeployments,
	structs.KindReplicaSet: TableReplicaSets,
	structs.KindService:    TableServices,
	structs.KindAutoscaler: TableAutoscalers,
	structs.KindIngress:    TableIngresses,
}

// jobScopedTables hold objects that only their job reaches: they are
// keyed by (namespace, job ID, ID), so a job's objects are a prefix of the
// ID index and no second index costs an insert per object. A job-index
// entry keyed by the job's name lands at a random place in its radix tree:
// dropping it for deployments and replica sets made the FSM's share of a
// register about 10 % cheaper. Services keep (namespace, name) keys, as
// they are looked up by name.
var jobScopedTables = map[string]bool{
	TableDeployments: true,
	TableReplicaSets: true,
	TableAutoscalers: true,
	TableIngresses:   true,
}

// TableForKind returns the table holding objects of a kind.
func TableForKind(kind string) (string, error) {
	t, ok := objectTables[kind]
	if !ok {
		return "", fmt.Errorf("unknown object kind %q", kind)
	}
	return t, nil
}

func schema() *memdb.DBSchema {
	s := &memdb.DBSchema{Tables: map[string]*memdb.TableSchema{
		TableIndex: {
			Name: TableIndex,
			Indexes: map[string]*memdb.IndexSchema{
				IndexID: {Name: IndexID, Unique: true, Indexer: byIndexKey},
			},
		},
		TableJobs: namespacedTable(TableJobs),
		TableJobVersions: {
			Name: TableJobVersions,
			Indexes: map[string]*memdb.IndexSchema{
				IndexID: {Name: IndexID, Unique: true, Indexer: byVersion},
			},
		},
	}}
	for _, name := range objectTables {
		if jobScopedTables[name] {
			s.Tables[name] = &memdb.TableSchema{Name: name, Indexes: map[string]*memdb.IndexSchema{
				IndexID: {Name: IndexID, Unique: true, Indexer: byNamespaceJobID},
			}}
			continue
		}
		t := namespacedTable(name)
		t.Indexes[IndexJob] = &memdb.IndexSchema{Name: IndexJob, Indexer: byJob}
		s.Tables[name] = t
	}
	// Nodes are cluster-wide: their namespace is always empty.
	s.Tables[TableNodes] = namespacedTable(TableNodes)
	pods := namespacedTable(TablePods)
	pods.Indexes[IndexReported] = &memdb.IndexSchema{Name: IndexReported, AllowMissing: true, Indexer: byClientModifyIndex}
	pods.Indexes[IndexUnplaced] = &memdb.IndexSchema{Name: IndexUnplaced, AllowMissing: true, Indexer: byUnplaced}
	pods.Indexes[IndexJob] = &memdb.IndexSchema{Name: IndexJob, Indexer: byJob}
	pods.Indexes[IndexNode] = &memdb.IndexSchema{Name: IndexNode, AllowMissing: true, Indexer: byPodNode}
	s.Tables[TablePods] = pods
	services := s.Tables[TableServices]
	services.Indexes[IndexClusterIP] = &memdb.IndexSchema{Name: IndexClusterIP, AllowMissing: true, Indexer: byClusterIP}
	services.Indexes[IndexNodePort] = &memdb.IndexSchema{Name: IndexNodePort, AllowMissing: true, Indexer: nodePortIndexer{}}
	s.Tables[TableEndpoints] = namespacedTable(TableEndpoints)
	s.Tables[TableJobEvents] = jobEventsTable()
	return s
}

// namespacedTable is a table keyed by (Namespace, ID). The ID index also
// serves lists by namespace (a prefix query on its first component), so no
// separate namespace index costs an insert per write.
func namespacedTable(name string) *memdb.TableSchema {
	return &memdb.TableSchema{
		Name: name,
		Indexes: map[string]*memdb.IndexSchema{
			IndexID: {Name: IndexID, Unique: true, Indexer: byNamespaceID},
		},
	}
}
