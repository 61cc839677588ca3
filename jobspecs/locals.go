package jobspecs

import (
	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
)

// locals evaluates the locals blocks, each local after the locals it
// references, and returns the evaluation context of the job: var, local and
// the functions.
func (d *decoder) locals(blocks hcl.Blocks, vars map[string]cty.Value, funcs map[string]function.Function) *hcl.EvalContext {
	d.ctx = &hcl.EvalContext{
		Variables: map[string]cty.Value{"var": cty.ObjectVal(vars), "local": cty.EmptyObjectVal},
		Functions: funcs,
	}
	attrs, order := d.localAttrs(blocks)
	vals := map[string]cty.Value{}
	failed := map[string]bool{}
	pending := order
	for len(pending) > 0 {
		var next []string
		for _, name := range pending {
			switch d.localState(attrs[name], vals, failed) {
			case localWaiting:
				next = append(next, name)
			case localBlocked:
				failed[name] = true
			case localReady:
				d.ctx.Variables["local"] = cty.ObjectVal(vals)
				if v, ok := d.eval(attrs[name].Expr); ok {
					vals[name] = v
				} else {
					failed[name] = true
				}
			}
		}
		if len(next) == len(pending) {
			for _, name := range next {
				d.errAt(attrs[name].NameRange, "Local value cycle; local.%s cannot be evaluated: it is part of, or depends on, a cycle of locals", name)
			}
			break
		}
		pending = next
	}
	d.ctx.Variables["local"] = cty.ObjectVal(vals)
	return d.ctx
}

// localAttrs collects the attributes of every locals block, in source order,
// reporting duplicates.
func (d *decoder) localAttrs(blocks hcl.Blocks) (map[string]*hcl.Attribute, []string) {
	d.localNames = map[string]bool{}
	all := map[string]*hcl.Attribute{}
	var order []string
	for _, b := range blocks {
		attrs, diags := b.Body.JustAttributes()
		d.diags(diags)
		list := sortedAttributes(attrs)
		for _, a := range list {
			if prev, dup := all[a.Name]; dup {
				d.errAt(a.NameRange, "Duplicate local value; local.%s was already defined at %s", a.Name, posString(prev.NameRange))
				continue
			}
			all[a.Name] = a
			d.localNames[a.Name] = true
			order = append(order, a.Name)
		}
	}
	return all, order
}

type localStatus int

const (
	localReady   localStatus = iota // every local it references is known
	localWaiting                    // a local it references is not evaluated yet
	localBlocked                    // a local it references failed
)

func (d *decoder) localState(a *hcl.Attribute, vals map[string]cty.Value, failed map[string]bool) localStatus {
	status := localReady
	for _, t := range a.Expr.Variables() {
		name, ok := attrName(t)
		if !ok || t.RootName() != "local" || !d.localNames[name] {
			continue
		}
		if failed[name] {
			return localBlocked
		}
		if _, done := vals[name]; !done {
			status = localWaiting
		}
	}
	return status
}
