package command

import (
	"fmt"
	"strings"
)

// globalFlags are the flags a user may write before the command words
// (`mk -address X job run f`); valued says whether one takes a value.
var globalFlags = map[string]bool{"address": true, "namespace": true, "token": true, "json": false}

// cliFlags are the flags hashicorp/cli itself reads: help anywhere
// (true), version only before the command words (false).
var cliFlags = map[string]bool{"h": true, "help": true, "v": false, "version": false}

// misplacedFlagError says that a flag stands before the command it
// belongs to.
type misplacedFlagError struct {
	flag    string
	command string // the command words around it, "" for none
}

func (e *misplacedFlagError) Error() string {
	where := "mk COMMAND " + e.flag + " ..."
	if e.command != "" {
		where = "mk " + e.command + " " + e.flag + " ..."
	}
	return fmt.Sprintf("flag %s goes after the command (%s); only -address, -namespace, -token and -json may come before it", e.flag, where)
}

// hoistGlobalFlags moves the global flags written before or between the
// command words to just after them, where the command's flag set parses
// them: `mk -address X job run f` becomes `mk job run -address X f`, as
// Nomad accepts. Another flag before the last command word is a
// *misplacedFlagError; help and version flags stay first, for
// hashicorp/cli.
func hoistGlobalFlags(args []string, isCommand func(string) bool) ([]string, error) {
	var leading, words, globals []string
	i := 0
	for i < len(args) {
		a := args[i]
		if a == "--" || !strings.HasPrefix(a, "-") {
			next := strings.Join(append(append([]string{}, words...), a), " ")
			if a == "--" || !isCommand(next) {
				break
			}
			words = append(words, a)
			i++
			continue
		}
		name, _, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		valued, global := globalFlags[name]
		switch {
		case global:
			n := 1
			if valued && !hasValue && i+1 < len(args) {
				n = 2
			}
			globals = append(globals, args[i:i+n]...)
			i += n
			continue
		case cliFlags[name] || len(words) == 0 && isCLIFlag(name):
			leading = append(leading, a)
			i++
			continue
		}
		if full := commandWords(words, isCommand, args[i+1:]); len(words) == 0 || len(full) > len(words) {
			return nil, &misplacedFlagError{flag: a, command: strings.Join(full, " ")}
		}
		break
	}
	out := append(append(append(leading, words...), globals...), args[i:]...)
	return out, nil
}

// commandWords extends words with the command words that follow in rest
// (skipping flags): the command a flag before them belongs to.
func commandWords(words []string, isCommand func(string) bool, rest []string) []string {
	full := append([]string{}, words...)
	for _, a := range rest {
		if strings.HasPrefix(a, "-") {
			continue
		}
		if !isCommand(strings.Join(append(append([]string{}, full...), a), " ")) {
			break
		}
		full = append(full, a)
	}
	return full
}

func isCLIFlag(name string) bool { _, ok := cliFlags[name]; return ok }
