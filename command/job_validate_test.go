package command

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/cli"

	"github.com/mk-orchestrator/mk/jobspecs"
)

// TestJobInit: job init writes example.hcl (or the file named), refuses
// to overwrite it, and the example is an exec job that validates.
func TestJobInit(t *testing.T) {
	t.Chdir(t.TempDir())
	run := func(args ...string) (int, *cli.MockUi) {
		ui := cli.NewMockUi()
		return (&JobInitCommand{Meta: Meta{Ui: ui}}).Run(args), ui
	}
	if code, ui := run(); code != 0 || ui.OutputWriter.String() != "Example job file written to example.hcl\n" {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, ui.OutputWriter.String(), ui.ErrorWriter.String())
	}
	job, err := jobspecs.ParseFile(defaultInitFile, jobspecs.ParseOptions{})
	if err != nil {
		t.Fatalf("the example does not parse: %v", err)
	}
	if _, err := jobspecs.Translate(job); err != nil {
		t.Fatalf("the example does not translate: %v", err)
	}
	for _, g := range job.Groups {
		for _, task := range g.Tasks {
			if task.Driver != "exec" {
				t.Errorf("task %s uses driver %q, want exec", task.Name, task.Driver)
			}
		}
	}
	if code, ui := run(); code != 1 || ui.ErrorWriter.String() != "Error: example.hcl already exists; remove it or name another file\n" {
		t.Fatalf("second init: exit %d, stderr %q", code, ui.ErrorWriter.String())
	}
	if code, _ := run("other.hcl"); code != 0 {
		t.Fatalf("init other.hcl: exit %d", code)
	}
	if _, err := os.Stat("other.hcl"); err != nil {
		t.Fatal(err)
	}
}

func TestJobValidate(t *testing.T) {
	dir := t.TempDir()
	write := func(name, src string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	good := write("good.hcl", exampleJob)
	badType := write("type.hcl", "job \"web\" {\n  group \"g\" {\n    count = \"three\"\n  }\n}\n")
	badValue := write("value.hcl", strings.Replace(exampleJob, "memory = 64", "memory = 0", 1))
	tests := []struct {
		name   string
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{"valid", []string{good}, 0, "Job validation successful\n", ""},
		{"type error", []string{badType}, 1, "", "Error: " + badType + ":3:13: count: expected a number, got string\n"},
		{"invalid value", []string{badValue}, 1, "", "Error: " + badValue + ":28:18: " + `job "example" group "web" task "greeter": resources.memory must be > 0` + "\n"},
		{"missing", []string{filepath.Join(dir, "nope.hcl")}, 1, "", "Error: " + filepath.Join(dir, "nope.hcl") + ": cannot read job file: no such file or directory\n"},
		{"variables", []string{"-var", "x", good}, 1, "", "Error: -var \"x\": want key=value\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ui := cli.NewMockUi()
			// No agent anywhere: validate must not need one.
			t.Setenv("MK_ADDR", "http://127.0.0.1:1")
			code := (&JobValidateCommand{Meta: Meta{Ui: ui}}).Run(tc.args)
			if code != tc.code || ui.OutputWriter.String() != tc.stdout || ui.ErrorWriter.String() != tc.stderr {
				t.Fatalf("exit %d, stdout %q, stderr %q\nwant exit %d, stdout %q, stderr %q",
					code, ui.OutputWriter.String(), ui.ErrorWriter.String(), tc.code, tc.stdout, tc.stderr)
			}
		})
	}
}
