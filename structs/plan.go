package structs

// Diff types of a plan.
const (
	DiffAdded   = "Added"
	DiffEdited  = "Edited"
	DiffDeleted = "Deleted"
	DiffNone    = "None"
)

// JobPlan is what a run of a job would change, without changing it.
type JobPlan struct {
	// JobModifyIndex of the stored job (0 when new): pass it back with
	// EnforceIndex to run exactly what was planned.
	JobModifyIndex uint64
	// Type is the change to the job itself.
	Type string
	// JobFields are the changed fields of the job spec.
	JobFields []FieldDiff `json:",omitempty"`
	Objects   []*ObjectDiff
	// Placements is the scheduler's dry run of the plan: per group, what
	// the controllers and the scheduler would do with its pods.
	Placements map[string]*PlanGroupSummary `json:",omitempty"`
	// FailedPlacements are the groups of which some pods would fit on no
	// node, with the scheduler's reasons.
	FailedPlacements map[string]*PlanGroupFailure `json:",omitempty"`
}

// PlanGroupSummary counts what a run would do with a group's pods.
type PlanGroupSummary struct {
	// Place is how many new pods would be placed (or, of pods waiting
	// for room, placed again).
	Place int
	// Replace is how many pods would be stopped for a new one in their
	// place (the group's pod template changed).
	Replace int
	// Stop is how many pods would be stopped and not replaced.
	Stop int
	// Keep is how many running or placed pods would be left as they are.
	Keep int
	// Canaries is how many of the placed pods are canaries: the rollout
	// then waits for a promotion with the old pods kept.
	Canaries int `json:",omitempty"`
}

// PlanGroupFailure is the pods of a group that the dry run could not
// place, with the scheduler's reasons (as a pod's PendingReason), each
// once, in the order found.
type PlanGroupFailure struct {
	Failed  int
	Reasons []string
}

// ObjectDiff is one derived object a run would create, change or delete.
type ObjectDiff struct {
	Kind   string
	ID     string
	Type   string
	Fields []FieldDiff `json:",omitempty"`
}
