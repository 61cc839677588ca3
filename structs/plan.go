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
}

// ObjectDiff is one derived object a run would create, change or delete.
type ObjectDiff struct {
	Kind   string
	ID     string
	Type   string
	Fields []FieldDiff `json:",omitempty"`
}
