package jobspecs

import (
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// runtimeRoots are variables known only where a pod is placed, as in the
// constraint attribute "${node.datacenter}". Inside a string template they
// are kept as written, for the scheduler and the client to interpolate.
var runtimeRoots = map[string]bool{"node": true, "attr": true, "meta": true}

// eval evaluates an expression in the job's context. It reports references
// to undeclared variables and locals, and evaluation errors, and returns
// false after any error.
func (d *decoder) eval(expr hcl.Expression) (cty.Value, bool) {
	if !d.checkRefs(expr) {
		return cty.NilVal, false
	}
	v, diags := expr.Value(d.ctx)
	d.diags(diags)
	if diags.HasErrors() {
		return cty.NilVal, false
	}
	if !v.IsWhollyKnown() {
		d.errAt(expr.Range(), "Unknown value; the value must be known when the job file is parsed")
		return cty.NilVal, false
	}
	v, _ = v.UnmarkDeep()
	return v, true
}

// evalString evaluates a string expression, keeping references to runtime
// variables (runtimeRoots) of a template as their "${...}" text.
func (d *decoder) evalString(expr hcl.Expression) (cty.Value, bool) {
	parts := templateParts(expr)
	if !d.hasRuntimeRef(parts) {
		return d.eval(expr)
	}
	var b strings.Builder
	for _, p := range parts {
		if d.isRuntimeRef(p) {
			b.WriteString("${")
			b.Write(p.Range().SliceBytes(d.src))
			b.WriteString("}")
			continue
		}
		v, ok := d.eval(p)
		if !ok {
			return cty.NilVal, false
		}
		s, ok := toString(v)
		if !ok {
			d.errAt(p.Range(), "Invalid template interpolation value; expected a string, got %s", typeName(v))
			return cty.NilVal, false
		}
		b.WriteString(s)
	}
	return cty.StringVal(b.String()), true
}

// templateParts returns the parts of a string template, or nil when expr is
// not one.
func templateParts(expr hcl.Expression) []hclsyntax.Expression {
	switch e := expr.(type) {
	case *hclsyntax.TemplateExpr:
		return e.Parts
	case *hclsyntax.TemplateWrapExpr:
		return []hclsyntax.Expression{e.Wrapped}
	}
	return nil
}

func (d *decoder) hasRuntimeRef(parts []hclsyntax.Expression) bool {
	for _, p := range parts {
		if d.isRuntimeRef(p) {
			return true
		}
	}
	return false
}

// isRuntimeRef reports whether p is a plain reference such as node.datacenter
// written in the job file itself.
func (d *decoder) isRuntimeRef(p hclsyntax.Expression) bool {
	t, ok := p.(*hclsyntax.ScopeTraversalExpr)
	if !ok || !runtimeRoots[t.Traversal.RootName()] {
		return false
	}
	r := t.SrcRange
	return r.Filename == d.filename && r.End.Byte <= len(d.src) && r.Start.Byte <= r.End.Byte
}

// checkRefs reports references to variables and locals that are not declared.
func (d *decoder) checkRefs(expr hcl.Expression) bool {
	ok := true
	for _, t := range expr.Variables() {
		name, named := attrName(t)
		if !named {
			continue
		}
		switch t.RootName() {
		case "var":
			if !d.varNames[name] {
				d.errAt(t.SourceRange(), "Undefined variable; var.%s is not declared: add a variable %q block", name, name)
				ok = false
			}
		case "local":
			if !d.localNames[name] {
				d.errAt(t.SourceRange(), "Undefined local; local.%s is not defined in a locals block", name)
				ok = false
			}
		}
	}
	return ok
}

// attrName returns the attribute name of a traversal such as var.name.
func attrName(t hcl.Traversal) (string, bool) {
	if len(t) < 2 {
		return "", false
	}
	a, ok := t[1].(hcl.TraverseAttr)
	return a.Name, ok
}
