package e2e

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// exampleNeeds returns the first comment line of an example job file,
// which says what it needs: "# Runs anywhere" or "# Needs ...".
func exampleNeeds(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Scan()
	return sc.Text()
}

// TestExamples: every example job says in its first comment what it
// needs; those that run anywhere run to success on `mk agent -dev`, and
// those that need what this machine or mk lacks do not claim success.
func TestExamples(t *testing.T) {
	files, err := filepath.Glob("../jobspecs/examples/*.hcl")
	if err != nil || len(files) == 0 {
		t.Fatalf("no examples: %v", err)
	}
	// Examples that run with docker run here: the test readies the Engine.
	requireDocker(t)
	addr := devAgent(t)
	ran := 0
	for _, path := range files {
		name := filepath.Base(path)
		needs := exampleNeeds(t, path)
		switch {
		case strings.HasPrefix(needs, "# Runs anywhere"):
			stdout, stderr, code := runMk(t, addr, "job", "run", name)
			if code != 0 {
				t.Errorf("%s: exit %d\nstdout:\n%s\nstderr:\n%s", name, code, stdout, stderr)
			}
			ran++
		case strings.HasPrefix(needs, "# Needs "):
			if _, stderr, code := runMk(t, addr, "job", "run", name); code == 0 {
				t.Errorf("%s (%s) ran here: exit 0\n%s", name, needs, stderr)
			}
		default:
			t.Errorf("%s: the first comment %q says neither \"Runs anywhere\" nor \"Needs ...\"", name, needs)
		}
	}
	if ran < 4 {
		t.Fatalf("%d examples run anywhere, want at least batch, hello-exec, shared-volume and system", ran)
	}
}
