// Package structs holds every type shared between mk's parts: the objects in
// the state store, the commands written to the Raft log, typed errors and the
// validation of user input. It has no behaviour beyond that.
package structs

// DefaultNamespace is the namespace of objects that name none.
const DefaultNamespace = "default"

// Label keys that mk sets on the objects it derives from a job.
const (
	LabelJob   = "mk/job"
	LabelGroup = "mk/group"
	// LabelJobType is set on pods so clients know how to run them.
	LabelJobType = "mk/job-type"
)

// ObjectMeta is embedded in every stored object. Its fields are flattened in
// JSON so an object reads {"ID": ..., "Name": ..., ...}.
type ObjectMeta struct {
	ID          string
	Name        string
	Namespace   string
	Labels      map[string]string `json:",omitempty"`
	CreateIndex uint64
	// ModifyIndex is the Raft index of the object's last write.
	ModifyIndex uint64
}

// Metadata returns the object's metadata; it lets generic code reach the
// embedded struct through the Object interface.
func (m *ObjectMeta) Metadata() *ObjectMeta { return m }

// Object is implemented by every stored object through ObjectMeta.
type Object interface {
	Metadata() *ObjectMeta
}

// NamespaceOrDefault returns ns, or the default namespace when ns is empty.
func NamespaceOrDefault(ns string) string {
	if ns == "" {
		return DefaultNamespace
	}
	return ns
}
