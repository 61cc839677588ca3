// mk is a container orchestrator: one binary that is the agent (server and
// client) and the CLI.
package main

import (
	"os"

	"github.com/mk-orchestrator/mk/command"
)

func main() {
	os.Exit(command.Run(os.Args[1:]))
}
