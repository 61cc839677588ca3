package scheduler

import (
	"testing"

	"github.com/mk-orchestrator/mk/structs"
)

func TestConstraintChecker(t *testing.T) {
	node := with(testNode("node-7", 1, 1), func(n *structs.Node) {
		n.Attributes = map[string]string{
			"kernel.name":    "linux",
			"kernel.version": "5.10.0-21-amd64",
			"cpu.numcores":   "16",
			"os.name":        "debian",
			"features":       "avx, sse4,gpu",
			"zone":           "dc1",
		}
	})
	cases := []struct {
		attr, op, value string
		ok              bool
	}{
		{"${attr.kernel.name}", "=", "linux", true},
		{"${attr.kernel.name}", "", "linux", true},
		{"${attr.kernel.name}", "=", "windows", false},
		{"${attr.kernel.name}", "!=", "windows", true},
		{"${attr.kernel.name}", "!=", "linux", false},
		{"${attr.missing}", "!=", "linux", false},
		{"${attr.cpu.numcores}", ">", "8", true},
		{"${attr.cpu.numcores}", ">", "16", false},
		{"${attr.cpu.numcores}", ">=", "16", true},
		{"${attr.cpu.numcores}", "<", "9", false}, // numeric: lexically "16" < "9"
		{"${attr.cpu.numcores}", "<=", "16.0", true},
		{"${attr.cpu.numcores}", "=", "16.0", true},
		{"${attr.os.name}", "<", "fedora", true}, // lexical
		{"${attr.os.name}", ">", "fedora", false},
		{"${attr.os.name}", "regexp", "^deb", true},
		{"${attr.os.name}", "regexp", "^ubu", false},
		{"${attr.os.name}", "regexp", "(", false},
		{"${attr.features}", "set_contains", "gpu,avx", true},
		{"${attr.features}", "set_contains", "gpu, avx512", false},
		{"${attr.features}", "set_contains_any", "avx512,sse4", true},
		{"${attr.features}", "set_contains_any", "avx512,neon", false},
		{"${attr.kernel.version}", "version", ">= 5.4, < 6.0", true},
		{"${attr.kernel.version}", "version", ">= 5.11", false},
		{"${attr.kernel.version}", "version", "~> 5.9", true},
		{"${attr.os.name}", "version", ">= 1.0", false},
		{"${attr.kernel.version}", "version", "not a version", false},
		{"${attr.kernel.name}", "is_set", "", true},
		{"${attr.gpu.model}", "is_set", "", false},
		{"${attr.gpu.model}", "is_not_set", "", true},
		{"${attr.kernel.name}", "is_not_set", "", false},
		{"${node.datacenter}", "=", "dc1", true},
		{"${node.datacenter}", "=", "${attr.zone}", true},
		{"${node.id}", "=", "node-7", true},
		{"${node.name}", "regexp", "^name-node-", true},
		{"${node.class}", "is_not_set", "", true},
		{"${meta.rack}", "is_not_set", "", true},
		{"${meta.rack}", "=", "r1", false},
		{"${attr.kernel.name}", "=", "${attr.missing}", false},
		{"${attr.kernel.name}", "no_such_op", "x", false},
	}
	for _, tc := range cases {
		c := &structs.Constraint{Attribute: tc.attr, Operator: tc.op, Value: tc.value}
		t.Run(constraintReason(c), func(t *testing.T) {
			cc := NewConstraintChecker([]*structs.Constraint{c})
			ok, reason := cc.Check(&Candidate{Node: node})
			want := ""
			if !tc.ok {
				want = constraintReason(c)
			}
			if ok != tc.ok || reason != want {
				t.Fatalf("Check = (%v, %q), want (%v, %q)", ok, reason, tc.ok, want)
			}
		})
	}
}

func TestConstraintReason(t *testing.T) {
	cases := []struct {
		c    structs.Constraint
		want string
	}{
		{structs.Constraint{Attribute: "${attr.kernel.name}", Operator: "=", Value: "linux"},
			"constraint ${attr.kernel.name} = linux"},
		{structs.Constraint{Attribute: "${attr.kernel.name}", Value: "linux"},
			"constraint ${attr.kernel.name} = linux"},
		{structs.Constraint{Attribute: "${attr.gpu}", Operator: "is_set"},
			"constraint ${attr.gpu} is_set"},
		{structs.Constraint{Attribute: "${attr.v}", Operator: "version", Value: ">= 1.2, < 2.0"},
			"constraint ${attr.v} version >= 1.2, < 2.0"},
	}
	for _, tc := range cases {
		if got := constraintReason(&tc.c); got != tc.want {
			t.Errorf("constraintReason(%+v) = %q, want %q", tc.c, got, tc.want)
		}
	}
}

func TestConstraintCheckerFirstFailureAndDistinctHosts(t *testing.T) {
	cc := NewConstraintChecker([]*structs.Constraint{
		nil,
		{Operator: "distinct_hosts", Value: "true"},
		{Attribute: "${attr.kernel.name}", Operator: "=", Value: "linux"},
		{Attribute: "${attr.cpu.arch}", Operator: "=", Value: "arm64"},
		{Attribute: "${attr.os.name}", Operator: "is_set"},
	})
	ok, reason := cc.Check(&Candidate{Node: testNode("n", 1, 1)})
	if ok || reason != "constraint ${attr.cpu.arch} = arm64" {
		t.Fatalf("Check = (%v, %q), want the arch constraint", ok, reason)
	}
	if len(cc.rules) != 3 {
		t.Fatalf("compiled %d rules, want 3 (nil and distinct_hosts skipped)", len(cc.rules))
	}
}
