package scheduler

import (
	"fmt"
	"strconv"
	"strings"
)

// version is a dotted numeric version: "1.2.3" is [1 2 3]. Missing parts
// compare as zero, so "1.2" equals "1.2.0".
type version []int

// parseVersion reads "1.2.3", "v1.2" or "5.10.0-21-amd64": a leading "v"
// is dropped, and so is anything from the first "-" or "+" (pre-release
// and build suffixes are not ordered).
func parseVersion(s string) (version, bool) {
	s = strings.TrimPrefix(strings.TrimSpace(s), "v")
	if i := strings.IndexAny(s, "-+"); i >= 0 {
		s = s[:i]
	}
	if s == "" {
		return nil, false
	}
	parts := strings.Split(s, ".")
	v := make(version, len(parts))
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 {
			return nil, false
		}
		v[i] = n
	}
	return v, true
}

// compare returns -1, 0 or 1 as v is older than, equal to or newer than w.
func (v version) compare(w version) int {
	for i := 0; i < len(v) || i < len(w); i++ {
		a, b := 0, 0
		if i < len(v) {
			a = v[i]
		}
		if i < len(w) {
			b = w[i]
		}
		switch {
		case a < b:
			return -1
		case a > b:
			return 1
		}
	}
	return 0
}

// versionClause is one "op version" of a version constraint.
type versionClause struct {
	op string
	v  version
}

// versionConstraint is a comma list of clauses that must all hold, such as
// ">= 1.2, < 2.0". Operators: =, !=, >, >=, <, <= and ~> ("~> 1.2" is
// ">= 1.2, < 2"; "~> 1.2.3" is ">= 1.2.3, < 1.3"). A clause without an
// operator means =.
type versionConstraint []versionClause

// versionOps are the clause operators, longest first so that ">=" is not
// read as ">".
var versionOps = []string{">=", "<=", "!=", "~>", "=", ">", "<"}

// parseVersionConstraint parses a version constraint.
func parseVersionConstraint(s string) (versionConstraint, error) {
	var vc versionConstraint
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		op := "="
		for _, o := range versionOps {
			if rest, ok := strings.CutPrefix(part, o); ok {
				op, part = o, strings.TrimSpace(rest)
				break
			}
		}
		v, ok := parseVersion(part)
		if !ok {
			return nil, fmt.Errorf("version constraint %q: bad version %q", s, part)
		}
		if op != "~>" {
			vc = append(vc, versionClause{op: op, v: v})
			continue
		}
		upper := append(version{}, v...)
		if len(upper) > 1 {
			upper = upper[:len(upper)-1]
		}
		upper[len(upper)-1]++
		vc = append(vc, versionClause{">=", v}, versionClause{"<", upper})
	}
	return vc, nil
}

// allows reports whether v satisfies every clause.
func (vc versionConstraint) allows(v version) bool {
	for _, c := range vc {
		d := v.compare(c.v)
		var ok bool
		switch c.op {
		case "=":
			ok = d == 0
		case "!=":
			ok = d != 0
		case ">":
			ok = d > 0
		case ">=":
			ok = d >= 0
		case "<":
			ok = d < 0
		case "<=":
			ok = d <= 0
		}
		if !ok {
			return false
		}
	}
	return true
}
