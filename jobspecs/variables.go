package jobspecs

import (
	"os"
	"regexp"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	"github.com/zclconf/go-cty/cty/function"

	"github.com/mk-orchestrator/mk/structs"
)

// variable is one variable "name" {} block and the value it ends up with.
type variable struct {
	name  string
	block *hcl.Block
	ty    cty.Type
	val   cty.Value // cty.NilVal until a default or an input sets it
	// bad is set when a value was given but was invalid (already reported).
	bad bool
}

var variableSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
	{Name: "type"}, {Name: "default"}, {Name: "description"},
}}

// variables declares the variable blocks and resolves their values from
// defaults, then -var-files in order, then -var flags. It returns the values
// by name.
func (d *decoder) variables(blocks hcl.Blocks, opts ParseOptions, funcs map[string]function.Function) map[string]cty.Value {
	d.varNames = map[string]bool{}
	decls := map[string]*variable{}
	var order []string
	for _, b := range blocks {
		v := d.declareVariable(b, funcs)
		if v == nil {
			continue
		}
		if prev, dup := decls[v.name]; dup {
			d.errAt(b.DefRange, "Duplicate variable; variable %q was already declared at %s", v.name, posString(prev.block.DefRange))
			continue
		}
		decls[v.name] = v
		d.varNames[v.name] = true
		order = append(order, v.name)
	}
	for _, path := range opts.VarFiles {
		d.varFile(path, decls)
	}
	names := make([]string, 0, len(opts.Vars))
	for name := range opts.Vars {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		d.cliVar(name, opts.Vars[name], decls)
	}
	vals := map[string]cty.Value{}
	for _, name := range order {
		v := decls[name]
		if v.val == cty.NilVal && !v.bad {
			d.errAt(v.block.DefRange, "Missing value for variable %q; it has no default: pass -var %q or set it in a -var-file", name, name+"=...")
			continue
		}
		vals[name] = v.val
	}
	return vals
}

func (d *decoder) declareVariable(b *hcl.Block, funcs map[string]function.Function) *variable {
	name := b.Labels[0]
	if !hclsyntax.ValidIdentifier(name) {
		d.errAt(b.LabelRanges[0], "Invalid variable name; %q must be a letter followed by letters, digits, '_' or '-'", name)
		return nil
	}
	content, diags := b.Body.Content(variableSchema)
	d.diags(diags)
	v := &variable{name: name, block: b, ty: cty.DynamicPseudoType}
	if a, ok := content.Attributes["type"]; ok {
		ty, diags := typeexpr.TypeConstraint(a.Expr)
		d.diags(diags)
		if !diags.HasErrors() {
			v.ty = ty
		}
	}
	if a, ok := content.Attributes["description"]; ok {
		var s string
		d.str(a, &s)
	}
	if a, ok := content.Attributes["default"]; ok {
		val, diags := a.Expr.Value(&hcl.EvalContext{Functions: funcs})
		d.diags(diags)
		v.bad = diags.HasErrors()
		if !diags.HasErrors() {
			v.val = d.convertVar(v, val, a.Expr.Range(), "default")
		}
	}
	return v
}

// convertVar converts an input value to the variable's type, reporting a
// mismatch at r; it returns cty.NilVal on error.
func (d *decoder) convertVar(v *variable, val cty.Value, r hcl.Range, what string) cty.Value {
	out, err := convert.Convert(val, v.ty)
	if err != nil {
		d.errAt(r, "Invalid value for variable; %s of variable %q: %v", what, v.name, err)
		v.bad = true
		return cty.NilVal
	}
	return out
}

// varFile applies a -var-file: an HCL file of name = value.
func (d *decoder) varFile(path string, decls map[string]*variable) {
	src, err := os.ReadFile(path)
	if err != nil {
		d.errs = append(d.errs, errWithPos(path, "cannot read -var-file: "+unwrapPathError(err).Error()))
		return
	}
	file, diags := hclsyntax.ParseConfig(src, path, hcl.InitialPos)
	d.diags(diags)
	if diags.HasErrors() {
		return
	}
	attrs, diags := file.Body.JustAttributes()
	d.diags(diags)
	list := sortedAttributes(attrs)
	for _, a := range list {
		v, ok := decls[a.Name]
		if !ok {
			d.errAt(a.NameRange, "Undeclared variable; %q is set here but %s declares no variable %q", a.Name, d.filename, a.Name)
			continue
		}
		val, diags := a.Expr.Value(nil)
		d.diags(diags)
		v.bad = v.bad || diags.HasErrors()
		if !diags.HasErrors() {
			if cv := d.convertVar(v, val, a.Expr.Range(), "-var-file value"); cv != cty.NilVal {
				v.val = cv
			}
		}
	}
}

// cliVar applies one -var name=value.
func (d *decoder) cliVar(name, raw string, decls map[string]*variable) {
	v, ok := decls[name]
	if !ok {
		d.errs = append(d.errs, errWithPos("", `-var "`+name+`": `+d.filename+` declares no variable "`+name+`"`))
		return
	}
	val := cty.StringVal(raw)
	if v.ty != cty.String && looksLikeExpr(raw) {
		expr, diags := hclsyntax.ParseExpression([]byte(raw), "-var "+name, hcl.InitialPos)
		if !diags.HasErrors() {
			val, diags = expr.Value(nil)
		}
		if diags.HasErrors() {
			d.errs = append(d.errs, errWithPos("", `-var "`+name+`": `+oneLine(diags[0].Summary+"; "+diags[0].Detail)))
			v.bad = true
			return
		}
	}
	out, err := convert.Convert(val, v.ty)
	if err != nil {
		d.errs = append(d.errs, errWithPos("", `-var "`+name+`": `+err.Error()))
		v.bad = true
		return
	}
	v.val = out
}

// looksLikeExpr reports whether a -var value is meant as an HCL expression
// (a number, bool, null, list, object or quoted string) rather than a bare
// string.
func looksLikeExpr(raw string) bool {
	s := strings.TrimSpace(raw)
	switch {
	case s == "true", s == "false", s == "null":
		return true
	case strings.HasPrefix(s, "["), strings.HasPrefix(s, "{"), strings.HasPrefix(s, `"`):
		return true
	}
	return numberRE.MatchString(s)
}

var numberRE = regexp.MustCompile(`^-?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?$`)

func errWithPos(pos, msg string) *structs.ValidationError {
	return &structs.ValidationError{Pos: pos, Msg: oneLine(msg)}
}
