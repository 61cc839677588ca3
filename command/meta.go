// Package command is mk's CLI: one file per command, the flags every
// command shares in Meta, and the agent wiring.
package command

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/hashicorp/cli"
	"github.com/ryanuber/columnize"

	"github.com/mk-orchestrator/mk/api"
	"github.com/mk-orchestrator/mk/structs"
)

// Exit codes shared by commands.
const (
	exitOK    = 0
	exitError = 1
)

// Meta holds what every command shares: the UI, the API flags and -json.
type Meta struct {
	Ui cli.Ui

	address   string
	namespace string
	token     string
	json      bool
}

// FlagSet returns a flag set with the shared API flags. withJSON adds -json
// for commands that read.
func (m *Meta) FlagSet(name string, withJSON bool) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&m.address, "address", "", "HTTP API address (MK_ADDR)")
	fs.StringVar(&m.namespace, "namespace", "", "namespace (MK_NAMESPACE)")
	fs.StringVar(&m.token, "token", "", "ACL token (MK_TOKEN)")
	if withJSON {
		fs.BoolVar(&m.json, "json", false, "print JSON")
	}
	return fs
}

// parseFlags parses args, printing a one-line error on failure.
func (m *Meta) parseFlags(fs *flag.FlagSet, args []string) bool {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return false
		}
		m.Ui.Error("Error: " + err.Error())
		return false
	}
	return true
}

// Client returns an API client for the -address / MK_ADDR agent.
func (m *Meta) Client() (*api.Client, error) {
	return api.NewClient(api.Config{Address: m.address, Namespace: m.namespace})
}

// fail prints err as one line (or one line per validation error) and
// returns the error exit code.
func (m *Meta) fail(err error) int {
	var ves structs.ValidationErrors
	var unreachable *api.UnreachableError
	var notAgent *api.NotAgentError
	switch {
	case errors.As(err, &unreachable):
		m.Ui.Error("Error: " + unreachable.Error() + "; start one with 'mk agent -dev' or set MK_ADDR")
		return exitError
	case errors.As(err, &notAgent):
		m.Ui.Error("Error: " + notAgent.Error())
		return exitError
	}
	if errors.As(err, &ves) {
		for _, ve := range ves {
			m.Ui.Error("Error: " + ve.Error())
		}
		return exitError
	}
	msg := strings.ReplaceAll(err.Error(), "\n", "; ")
	m.Ui.Error("Error: " + msg)
	return exitError
}

// printJSON prints v as indented JSON.
func (m *Meta) printJSON(v any) int {
	buf, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return m.fail(err)
	}
	m.Ui.Output(string(buf))
	return exitOK
}

// formatList aligns rows of "a|b|c" into columns.
func formatList(rows []string) string {
	conf := columnize.DefaultConfig()
	conf.Empty = "<none>"
	conf.Glue = "  "
	return columnize.Format(rows, conf)
}

// formatKV aligns rows of "key|value" as "key = value".
func formatKV(rows []string) string {
	conf := columnize.DefaultConfig()
	conf.Empty = "<none>"
	conf.Glue = " = "
	return columnize.Format(rows, conf)
}

// formatTime prints a unix-nanosecond time in UTC, RFC 3339.
func formatTime(nanos int64) string {
	if nanos == 0 {
		return "<none>"
	}
	return time.Unix(0, nanos).UTC().Format(time.RFC3339)
}

// usageError prints a usage problem and the command's help.
func (m *Meta) usageError(msg string, help string) int {
	m.Ui.Error("Error: " + msg)
	m.Ui.Error(strings.TrimSpace(help))
	return exitError
}

func row(fields ...any) string {
	parts := make([]string, len(fields))
	for i, f := range fields {
		parts[i] = fmt.Sprint(f)
	}
	return strings.Join(parts, "|")
}

// plural is "1 pod" or "n pods".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
