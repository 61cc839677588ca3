// Package jobspecs parses HCL job files into structs.Job and translates jobs
// into the objects the servers store.
//
// A job file holds one job "name" {} block, plus optional variable "x" {}
// blocks and locals {} blocks. Expressions may use var.x, local.y and the
// functions listed in functions.go. Every error carries file:line:col.
package jobspecs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/mk-orchestrator/mk/structs"
)

// ParseOptions are the inputs of a parse besides the file itself.
type ParseOptions struct {
	// Vars are -var name=value pairs. A value is parsed as an HCL expression
	// when it looks like a number, bool, list or object (and the variable's
	// type is not string), else it is taken as a string, as Terraform does.
	Vars map[string]string
	// VarFiles are -var-file paths: HCL files of name = value. Later files
	// override earlier ones; Vars override them all.
	VarFiles []string
	// BaseDir is the directory file() reads relative paths from; the
	// directory of the job file when empty.
	BaseDir string
	// NoFiles refuses file(): set for job files that arrive over the API,
	// where a path would name a file of the server.
	NoFiles bool
	// AllowUnsupported accepts what the job format allows but the servers
	// cannot run yet (structs.Job.Supported): for tools and tests that
	// look at a job's structure, never for a job to register.
	AllowUnsupported bool
}

// ParseFile reads and parses the job file at path.
func ParseFile(path string, opts ParseOptions) (*structs.Job, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, structs.ValidationErrors{{Pos: path, Msg: fmt.Sprintf("cannot read job file: %v", unwrapPathError(err))}}
	}
	return Parse(path, src, opts)
}

// Parse decodes the job file src, named filename in error positions, then
// canonicalizes and validates the job. Errors are structs.ValidationErrors,
// each one line with its file:line:col.
func Parse(filename string, src []byte, opts ParseOptions) (*structs.Job, error) {
	if opts.BaseDir == "" {
		opts.BaseDir = filepath.Dir(filename)
	}
	d := &decoder{
		filename: filename,
		src:      src,
		pos:      map[string]hcl.Range{},
	}
	job := d.parse(opts)
	if len(d.errs) > 0 {
		return nil, d.errs
	}
	job.Canonicalize()
	if err := job.Validate(); err != nil {
		return nil, d.located(err)
	}
	if !opts.AllowUnsupported {
		if err := job.Supported(); err != nil {
			return nil, d.located(err)
		}
	}
	return job, nil
}

// located gives each validation error the file:line:col of its field.
func (d *decoder) located(err error) error {
	var errs structs.ValidationErrors
	if !errors.As(err, &errs) {
		return structs.ValidationErrors{errWithPos(d.filename, err.Error())}
	}
	for _, e := range errs {
		e.Pos = d.lookupPos(e.Path, e.Field)
	}
	return errs
}

// decoder holds the state of one parse: the source, the evaluation context,
// the errors found so far and the source range of every block and attribute,
// keyed as validation errors name them.
type decoder struct {
	filename   string
	src        []byte
	ctx        *hcl.EvalContext
	varNames   map[string]bool
	localNames map[string]bool
	errs       structs.ValidationErrors
	pos        map[string]hcl.Range
}

var rootSchema = &hcl.BodySchema{
	Blocks: []hcl.BlockHeaderSchema{
		{Type: "job", LabelNames: []string{"name"}},
		{Type: "variable", LabelNames: []string{"name"}},
		{Type: "locals"},
	},
}

func (d *decoder) parse(opts ParseOptions) *structs.Job {
	file, diags := hclsyntax.ParseConfig(d.src, d.filename, hcl.InitialPos)
	d.diags(diags)
	if diags.HasErrors() {
		return nil
	}
	content, diags := file.Body.Content(rootSchema)
	d.diags(diags)
	funcs := functions(opts.BaseDir, opts.NoFiles)
	vars := d.variables(content.Blocks.OfType("variable"), opts, funcs)
	jobs := content.Blocks.OfType("job")
	for _, b := range jobs[min(1, len(jobs)):] {
		d.errAt(b.DefRange, "Duplicate job block; a job file holds exactly one job, the first is at %s", posString(jobs[0].DefRange))
	}
	if len(d.errs) > 0 {
		// Evaluating locals or the job now would only repeat these errors
		// at every use of a variable.
		return nil
	}
	d.ctx = d.locals(content.Blocks.OfType("locals"), vars, funcs)
	if len(jobs) == 0 {
		d.errs = append(d.errs, errWithPos(d.filename+":1:1", `Missing job block; a job file must hold one job "name" {} block`))
	}
	if len(d.errs) > 0 {
		return nil
	}
	return d.decodeJob(jobs[0])
}

// diags records the errors among HCL diagnostics.
func (d *decoder) diags(diags hcl.Diagnostics) {
	d.errs = append(d.errs, DiagnosticErrors(diags)...)
}

// DiagnosticErrors turns the errors among HCL diagnostics into validation
// errors, one line each, as "file:line:col: Summary; Detail". Every HCL
// file mk reads (job files, agent config) reports through it.
func DiagnosticErrors(diags hcl.Diagnostics) structs.ValidationErrors {
	var out structs.ValidationErrors
	for _, diag := range diags {
		if diag.Severity != hcl.DiagError {
			continue
		}
		msg := diag.Summary
		if diag.Detail != "" {
			msg += "; " + diag.Detail
		}
		e := &structs.ValidationError{Msg: oneLine(msg)}
		if diag.Subject != nil {
			e.Pos = posString(*diag.Subject)
		}
		out = append(out, e)
	}
	return out
}

// sortedAttributes returns attributes in the order they appear in the file.
func sortedAttributes(attrs hcl.Attributes) []*hcl.Attribute {
	list := make([]*hcl.Attribute, 0, len(attrs))
	for _, a := range attrs {
		list = append(list, a)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].Range.Start.Byte < list[j].Range.Start.Byte })
	return list
}

// errAt records an error at a source range.
func (d *decoder) errAt(r hcl.Range, format string, args ...any) {
	d.errs = append(d.errs, &structs.ValidationError{Pos: posString(r), Msg: oneLine(fmt.Sprintf(format, args...))})
}

func posString(r hcl.Range) string {
	return fmt.Sprintf("%s:%d:%d", r.Filename, r.Start.Line, r.Start.Column)
}

// oneLine folds every run of whitespace, newlines included, into one space.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// record remembers where a block and its attributes are, under the keys
// validation errors use: path is the block path (`job "web" group "g"`),
// prefix the field prefix of a nested block ("restart", `check[0]`).
func (d *decoder) record(path, prefix string, b *hcl.Block, attrs hcl.Attributes) {
	base, sep := path, " "
	if prefix != "" {
		base, sep = path+" "+prefix, "."
	}
	if b != nil {
		d.pos[base] = b.DefRange
	}
	for name, a := range attrs {
		d.pos[base+sep+name] = a.Expr.Range()
	}
}

// lookupPos finds the position of a validation error: its field, else the
// closest enclosing block that was recorded.
func (d *decoder) lookupPos(path, field string) string {
	key := strings.TrimSpace(path + " " + field)
	for key != "" {
		if r, ok := d.pos[key]; ok {
			return posString(r)
		}
		i := strings.LastIndexAny(key, " .[")
		if i < 0 {
			break
		}
		key = key[:i]
	}
	return d.filename
}
