package scheduler

import "testing"

func TestVersionConstraint(t *testing.T) {
	cases := []struct {
		constraint, version string
		want                bool
	}{
		{">= 1.2, < 2.0", "1.2", true},
		{">= 1.2, < 2.0", "1.2.0", true},
		{">= 1.2, < 2.0", "1.10.3", true},
		{">= 1.2, < 2.0", "1.1.9", false},
		{">= 1.2, < 2.0", "2.0.0", false},
		{">= 1.2, < 2.0", "v1.5", true},
		{">= 1.2, < 2.0", "1.5.0-rc1", true},
		{">= 1.2, < 2.0", "1.5.0+build7", true},
		{"1.4", "1.4.0", true},
		{"= 1.4", "1.4.1", false},
		{"!= 1.4", "1.4.1", true},
		{"> 1.4", "1.4.0", false},
		{"<= 1.4", "1.4", true},
		{"~> 1.2", "1.9", true},
		{"~> 1.2", "2.0", false},
		{"~> 1.2", "1.1", false},
		{"~> 1.2.3", "1.2.9", true},
		{"~> 1.2.3", "1.3.0", false},
		{"~> 1", "1.9", true},
		{"~> 1", "2.0", false},
		{">= 1.2", "linux", false},
		{">= 1.2", "", false},
		{">= 1.2", "1..2", false},
	}
	for _, tc := range cases {
		vc, err := parseVersionConstraint(tc.constraint)
		if err != nil {
			t.Fatalf("parseVersionConstraint(%q): %v", tc.constraint, err)
		}
		v, ok := parseVersion(tc.version)
		if got := ok && vc.allows(v); got != tc.want {
			t.Errorf("%q allows %q = %v, want %v", tc.constraint, tc.version, got, tc.want)
		}
	}
}

func TestParseVersionConstraintErrors(t *testing.T) {
	for _, s := range []string{"", ">=", ">= 1.x", "1.2,", "=> 1.0"} {
		if _, err := parseVersionConstraint(s); err == nil {
			t.Errorf("parseVersionConstraint(%q) succeeded, want an error", s)
		}
	}
}
