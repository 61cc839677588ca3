package command

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/cli"
)

func TestHoistGlobalFlags(t *testing.T) {
	commands := Commands(cli.NewMockUi())
	isCommand := func(name string) bool { _, ok := commands[name]; return ok }
	tests := []struct {
		args string
		want string // "" when misplaced
		err  string
	}{
		{"job run f.hcl", "job run f.hcl", ""},
		{"-address X job run f.hcl", "job run -address X f.hcl", ""},
		{"-address=X -namespace ns -token T job run -detach f.hcl", "job run -address=X -namespace ns -token T -detach f.hcl", ""},
		{"-json pod status ID", "pod status -json ID", ""},
		{"job -address X status web", "job status -address X web", ""},
		{"-address X operator raft list-peers", "operator raft list-peers -address X", ""},
		{"operator -address X raft list-peers", "operator raft list-peers -address X", ""},
		{"-address X version", "version -address X", ""},
		{"-address X", "-address X", ""},
		{"job run -address X f.hcl", "job run -address X f.hcl", ""},
		// Arguments that look like command words stay arguments.
		{"pod exec ID -- job run", "pod exec ID -- job run", ""},
		{"job status run", "job status run", ""},
		// hashicorp/cli's own flags.
		{"-v", "-v", ""},
		{"-h", "-h", ""},
		{"job -h", "-h job", ""},
		{"-address X job -h", "-h job -address X", ""},
		{"job run -v", "job run -v", ""},
		// Flags of a command before its words.
		{"-detach job run f.hcl", "", "flag -detach goes after the command (mk job run -detach ...)"},
		{"job -detach run f.hcl", "", "flag -detach goes after the command (mk job run -detach ...)"},
		{"--foo", "", "flag --foo goes after the command (mk COMMAND --foo ...)"},
	}
	for _, tc := range tests {
		t.Run(tc.args, func(t *testing.T) {
			got, err := hoistGlobalFlags(strings.Fields(tc.args), isCommand)
			if tc.err != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tc.err+"; only -address") {
					t.Fatalf("got %q, %v; want error %q", got, err, tc.err)
				}
				return
			}
			if err != nil || !slices.Equal(got, strings.Fields(tc.want)) {
				t.Fatalf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

// TestGroupHelp: every group command's help names it and lists its
// subcommands with their synopses, and `mk -h` says what agent runs.
func TestGroupHelp(t *testing.T) {
	ui := cli.NewMockUi()
	commands := Commands(ui)
	var groups []string
	for name, f := range commands {
		cmd, err := f()
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := cmd.(*groupCommand); ok {
			groups = append(groups, name)
		}
	}
	if len(groups) < 5 {
		t.Fatalf("only %d group commands: %v", len(groups), groups)
	}
	for _, name := range groups {
		t.Run(name, func(t *testing.T) {
			help := helpOutput(t, strings.Fields(name+" -h"))
			if !strings.HasPrefix(help, "Usage: mk "+name+" <subcommand>") || strings.Contains(help, "run it with -help") {
				t.Fatalf("help of %q:\n%s", name, help)
			}
			for sub, f := range commands {
				rest, ok := strings.CutPrefix(sub, name+" ")
				if !ok || strings.Contains(rest, " ") {
					continue
				}
				cmd, _ := f()
				if !strings.Contains(help, "    "+rest+" ") || !strings.Contains(help, cmd.Synopsis()) {
					t.Errorf("help of %q lacks %q (%s):\n%s", name, rest, cmd.Synopsis(), help)
				}
			}
		})
	}
	if help := helpOutput(t, []string{"-h"}); !regexp.MustCompile(`\n    agent +Run an mk agent: a server, a client or both\n`).MatchString(help) {
		t.Fatalf("mk -h:\n%s", help)
	}
}

// helpOutput runs the CLI with args and returns the help it prints.
func helpOutput(t *testing.T, args []string) string {
	t.Helper()
	ui := cli.NewMockUi()
	var help strings.Builder
	if code := runCLI(args, ui, &help); code != 0 {
		t.Fatalf("mk %s: exit %d, stderr %q", strings.Join(args, " "), code, ui.ErrorWriter.String())
	}
	return help.String()
}
