package jobspecs

import (
	"fmt"
	"math"
	"math/big"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// field binds one HCL attribute of a block to its Go destination: a *string,
// *int, *bool, *[]string, *map[string]string or a duration.
type field struct {
	name string
	dst  any
}

// duration is a string destination that must hold a Go duration.
type duration struct{ s *string }

// countOrPercent is an attribute that is a number (n) or a percentage
// string such as "25%" (pct); setting one clears the other.
type countOrPercent struct{ n, pct *int }

// schema returns the body schema of a block with the given attributes and
// nested block types.
func schema(fields []field, blocks ...hcl.BlockHeaderSchema) *hcl.BodySchema {
	s := &hcl.BodySchema{Blocks: blocks}
	for _, f := range fields {
		s.Attributes = append(s.Attributes, hcl.AttributeSchema{Name: f.name})
	}
	return s
}

// content decodes body against the schema of fields and blocks, reporting
// unknown attributes and blocks, and decodes the fields. It returns the
// content, partial when there were errors.
func (d *decoder) content(body hcl.Body, fields []field, blocks ...hcl.BlockHeaderSchema) *hcl.BodyContent {
	c, diags := body.Content(schema(fields, blocks...))
	d.diags(diags)
	d.decodeFields(c.Attributes, fields)
	return c
}

// decodeFields evaluates every attribute present and stores it.
func (d *decoder) decodeFields(attrs hcl.Attributes, fields []field) {
	for _, f := range fields {
		a, ok := attrs[f.name]
		if !ok {
			continue
		}
		switch dst := f.dst.(type) {
		case *string:
			d.str(a, dst)
		case duration:
			d.duration(a, dst.s)
		case countOrPercent:
			d.countOrPercent(a, dst)
		case *int:
			d.integer(a, dst)
		case *bool:
			d.boolean(a, dst)
		case *[]string:
			d.strList(a, dst)
		case *map[string]string:
			d.strMap(a, dst)
		default:
			panic(fmt.Sprintf("jobspecs: field %s has unsupported type %T", f.name, f.dst))
		}
	}
}

// typeErr reports a value of the wrong type at the attribute's expression.
func (d *decoder) typeErr(a *hcl.Attribute, name, want string, v cty.Value) {
	d.errAt(a.Expr.Range(), "%s: expected %s, got %s", name, want, typeName(v))
}

func (d *decoder) str(a *hcl.Attribute, dst *string) {
	v, ok := d.evalString(a.Expr)
	if !ok || v.IsNull() {
		return
	}
	s, ok := toString(v)
	if !ok {
		d.typeErr(a, a.Name, "a string", v)
		return
	}
	*dst = s
}

func (d *decoder) duration(a *hcl.Attribute, dst *string) {
	var s string
	d.str(a, &s)
	if s == "" {
		return
	}
	if _, err := time.ParseDuration(s); err != nil {
		d.errAt(a.Expr.Range(), "%s: expected a duration such as \"30s\", got %q", a.Name, s)
		return
	}
	*dst = s
}

func (d *decoder) countOrPercent(a *hcl.Attribute, dst countOrPercent) {
	v, ok := d.eval(a.Expr)
	if !ok || v.IsNull() {
		return
	}
	if v.Type() == cty.Number {
		d.integer(a, dst.n)
		*dst.pct = 0
		return
	}
	var s string
	d.str(a, &s)
	num, isPct := strings.CutSuffix(s, "%")
	n, err := strconv.Atoi(num)
	if !isPct || err != nil || n < 0 || n > 100 {
		d.errAt(a.Expr.Range(), "%s: expected a number or a percentage such as \"25%%\", got %q", a.Name, s)
		return
	}
	*dst.n, *dst.pct = 0, n
}

func (d *decoder) integer(a *hcl.Attribute, dst *int) {
	v, ok := d.eval(a.Expr)
	if !ok || v.IsNull() {
		return
	}
	if v.Type() != cty.Number {
		d.typeErr(a, a.Name, "a number", v)
		return
	}
	bf := v.AsBigFloat()
	if !bf.IsInt() {
		d.errAt(a.Expr.Range(), "%s: expected a whole number, got %s", a.Name, bf.Text('g', -1))
		return
	}
	n, acc := bf.Int64()
	if acc != big.Exact || n < math.MinInt32 || n > math.MaxInt32 {
		d.errAt(a.Expr.Range(), "%s: expected a number between %d and %d, got %s",
			a.Name, math.MinInt32, math.MaxInt32, bf.Text('g', -1))
		return
	}
	*dst = int(n)
}

func (d *decoder) boolean(a *hcl.Attribute, dst *bool) {
	v, ok := d.eval(a.Expr)
	if !ok || v.IsNull() {
		return
	}
	if v.Type() != cty.Bool {
		d.typeErr(a, a.Name, "a bool", v)
		return
	}
	*dst = v.True()
}

func (d *decoder) strList(a *hcl.Attribute, dst *[]string) {
	v, ok := d.eval(a.Expr)
	if !ok || v.IsNull() {
		return
	}
	t := v.Type()
	if !t.IsListType() && !t.IsTupleType() && !t.IsSetType() {
		d.typeErr(a, a.Name, "a list of strings", v)
		return
	}
	var out []string
	for it, i := v.ElementIterator(), 0; it.Next(); i++ {
		_, e := it.Element()
		s, ok := toString(e)
		if !ok {
			d.typeErr(a, fmt.Sprintf("%s[%d]", a.Name, i), "a string", e)
			return
		}
		out = append(out, s)
	}
	*dst = out
}

func (d *decoder) strMap(a *hcl.Attribute, dst *map[string]string) {
	v, ok := d.eval(a.Expr)
	if !ok || v.IsNull() {
		return
	}
	t := v.Type()
	if !t.IsMapType() && !t.IsObjectType() {
		d.typeErr(a, a.Name, "a map of strings", v)
		return
	}
	var out map[string]string
	for it := v.ElementIterator(); it.Next(); {
		k, e := it.Element()
		s, ok := toString(e)
		if !ok {
			d.typeErr(a, fmt.Sprintf("%s[%q]", a.Name, k.AsString()), "a string", e)
			return
		}
		if out == nil {
			out = map[string]string{}
		}
		out[k.AsString()] = s
	}
	*dst = out
}

// attrMap decodes a block of arbitrary attributes (env, meta) into a map of
// strings; it returns nil for an empty block.
func (d *decoder) attrMap(b *hcl.Block) map[string]string {
	attrs, diags := b.Body.JustAttributes()
	d.diags(diags)
	names := make([]string, 0, len(attrs))
	for name := range attrs {
		names = append(names, name)
	}
	sort.Strings(names)
	var out map[string]string
	for _, name := range names {
		var s string
		d.str(attrs[name], &s)
		if out == nil {
			out = map[string]string{}
		}
		out[name] = s
	}
	return out
}

// toString converts strings, numbers and bools to a Go string.
func toString(v cty.Value) (string, bool) {
	if v.IsNull() || !v.IsKnown() {
		return "", false
	}
	switch v.Type() {
	case cty.String:
		return v.AsString(), true
	case cty.Number, cty.Bool:
		s, err := convert.Convert(v, cty.String)
		if err != nil {
			return "", false
		}
		return s.AsString(), true
	}
	return "", false
}

// typeName names a value's type the way a user reads it.
func typeName(v cty.Value) string {
	if v.IsNull() {
		return "null"
	}
	t := v.Type()
	switch {
	case t == cty.String:
		return "string"
	case t == cty.Number:
		return "number"
	case t == cty.Bool:
		return "bool"
	case t.IsListType() || t.IsTupleType() || t.IsSetType():
		return "list"
	case t.IsMapType():
		return "map"
	case t.IsObjectType():
		return "object"
	}
	return strings.TrimPrefix(t.FriendlyName(), "cty.")
}
