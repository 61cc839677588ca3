package jobspecs

import (
	"encoding/json"

	"github.com/mk-orchestrator/mk/structs"
)

// PLACEHOLDER until the jobspecs branch merges.
type ParseOptions struct {
	Vars     map[string]string
	VarFiles []string
	BaseDir  string
	NoFiles  bool
}

func Parse(filename string, src []byte, opts ParseOptions) (*structs.Job, error) {
	var j structs.Job
	if err := json.Unmarshal(src, &j); err != nil {
		return nil, structs.ValidationErrors{{Pos: filename + ":1:1", Msg: err.Error()}}
	}
	j.Canonicalize()
	return &j, j.Validate()
}

func ParseFile(path string, opts ParseOptions) (*structs.Job, error) { return nil, nil }
