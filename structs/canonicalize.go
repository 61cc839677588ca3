package structs

// PLACEHOLDER until the jobspecs branch merges.
func (j *Job) Canonicalize() {
	if j.Namespace == "" {
		j.Namespace = DefaultNamespace
	}
	if j.ID == "" {
		j.ID = j.Name
	}
	if j.Type == "" {
		j.Type = JobTypeService
	}
}
