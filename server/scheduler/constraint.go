package scheduler

import (
	"regexp"
	"strconv"
	"strings"

	"github.com/mk-orchestrator/mk/structs"
)

// ConstraintChecker passes nodes that satisfy every constraint of a group,
// except distinct_hosts, which DistinctHostsChecker enforces because it
// depends on the other placements.
//
// Both sides of a constraint may name a node attribute as ${...}:
// ${node.id}, ${node.name}, ${node.datacenter}, ${attr.<key>} (the node's
// fingerprinted Attributes). ${node.class} and ${meta.<key>} are never set:
// structs.Node has no class or meta yet. Anything else is a literal value.
// An attribute that is not set fails every operator but is_not_set.
type ConstraintChecker struct {
	rules []constraintRule
}

// constraintRule is a constraint compiled once: its regexp or version
// constraint, and the reason it gives when it fails.
type constraintRule struct {
	c       structs.Constraint
	re      *regexp.Regexp
	version versionConstraint
	invalid bool
	reason  string
}

// NewConstraintChecker compiles constraints. A constraint whose regexp or
// version does not compile fails on every node.
func NewConstraintChecker(cs []*structs.Constraint) *ConstraintChecker {
	cc := &ConstraintChecker{}
	for _, c := range cs {
		if c == nil || c.Operator == "distinct_hosts" {
			continue
		}
		r := constraintRule{c: *c, reason: constraintReason(c)}
		if r.c.Operator == "" {
			r.c.Operator = "="
		}
		var err error
		switch r.c.Operator {
		case "regexp":
			r.re, err = regexp.Compile(c.Value)
		case "version":
			r.version, err = parseVersionConstraint(c.Value)
		}
		r.invalid = err != nil
		cc.rules = append(cc.rules, r)
	}
	return cc
}

// constraintReason is `constraint ${attr.kernel.name} = linux`, or
// `constraint ${attr.gpu} is_set` for operators without a value.
func constraintReason(c *structs.Constraint) string {
	op := c.Operator
	if op == "" {
		op = "="
	}
	parts := []string{"constraint", c.Attribute, op}
	if c.Value != "" {
		parts = append(parts, c.Value)
	}
	return strings.Join(parts, " ")
}

// Check implements Checker. The reason is the failed constraint, such as
// `constraint ${attr.kernel.name} = linux`.
func (cc *ConstraintChecker) Check(c *Candidate) (bool, string) {
	for i := range cc.rules {
		r := &cc.rules[i]
		if r.invalid || !r.match(c.Node) {
			return false, r.reason
		}
	}
	return true, ""
}

// match reports whether the node satisfies the rule.
func (r *constraintRule) match(n *structs.Node) bool {
	lv, lok := resolveTarget(r.c.Attribute, n)
	switch r.c.Operator {
	case "is_set":
		return lok
	case "is_not_set":
		return !lok
	}
	rv, rok := resolveTarget(r.c.Value, n)
	if !lok || !rok {
		return false
	}
	switch r.c.Operator {
	case "=", "==":
		return compareValues(lv, rv) == 0
	case "!=":
		return compareValues(lv, rv) != 0
	case ">":
		return compareValues(lv, rv) > 0
	case ">=":
		return compareValues(lv, rv) >= 0
	case "<":
		return compareValues(lv, rv) < 0
	case "<=":
		return compareValues(lv, rv) <= 0
	case "regexp":
		return r.re.MatchString(lv)
	case "set_contains":
		return setContains(lv, rv, true)
	case "set_contains_any":
		return setContains(lv, rv, false)
	case "version":
		v, ok := parseVersion(lv)
		return ok && r.version.allows(v)
	}
	return false
}

// resolveTarget returns the value a constraint side names on node n, and
// whether it is set.
func resolveTarget(target string, n *structs.Node) (string, bool) {
	if !strings.HasPrefix(target, "${") || !strings.HasSuffix(target, "}") {
		return target, true
	}
	key := target[2 : len(target)-1]
	switch key {
	case "node.id":
		return n.ID, n.ID != ""
	case "node.name":
		return n.Name, n.Name != ""
	case "node.datacenter":
		return n.Datacenter, n.Datacenter != ""
	}
	if k, ok := strings.CutPrefix(key, "attr."); ok {
		v, ok := n.Attributes[k]
		return v, ok
	}
	return "", false
}

// compareValues compares two values as numbers when both parse as numbers,
// else as strings.
func compareValues(a, b string) int {
	fa, errA := strconv.ParseFloat(a, 64)
	fb, errB := strconv.ParseFloat(b, 64)
	if errA == nil && errB == nil {
		switch {
		case fa < fb:
			return -1
		case fa > fb:
			return 1
		}
		return 0
	}
	return strings.Compare(a, b)
}

// setContains reports whether the comma list have holds every item (all)
// or at least one item (!all) of the comma list want.
func setContains(have, want string, all bool) bool {
	set := map[string]bool{}
	for _, h := range strings.Split(have, ",") {
		set[strings.TrimSpace(h)] = true
	}
	for _, w := range strings.Split(want, ",") {
		found := set[strings.TrimSpace(w)]
		if all && !found {
			return false
		}
		if !all && found {
			return true
		}
	}
	return all
}
