package structs

// PLACEHOLDER until the jobspecs branch merges.
func (j *Job) Validate() error {
	if j.Name == "" {
		return ValidationErrors{{Path: "job", Field: "name", Msg: "must be set"}}
	}
	return nil
}
