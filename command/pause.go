package command

import (
	"errors"
	"os"
	"os/signal"

	"golang.org/x/sys/unix"
)

// PauseCommand is `mk pause`, the process of the docker driver's pause
// containers (drivers/docker): it holds a pod's network namespace and
// does nothing else. It sleeps until SIGTERM, SIGINT or SIGHUP, then
// exits 0; as PID 1 of its container it reaps any child that is handed
// to it. People do not run it.
type PauseCommand struct{ Meta }

// Help describes the command.
func (c *PauseCommand) Help() string {
	return `Usage: mk pause

  Sleeps until signalled, reaping zombies: the process of a pod's pause
  container, which holds the pod's network namespace. The docker driver
  starts it; running it by hand just sleeps.`
}

// Synopsis is the one-line description.
func (c *PauseCommand) Synopsis() string { return "Hold a pod's sandbox (internal)" }

// Run sleeps until a stop signal.
func (c *PauseCommand) Run(args []string) int {
	if len(args) != 0 {
		c.Ui.Error(c.Help())
		return exitError
	}
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, unix.SIGTERM, unix.SIGINT, unix.SIGHUP, unix.SIGCHLD)
	for sig := range sigs {
		if sig == unix.SIGCHLD {
			reapChildren()
			continue
		}
		return exitOK
	}
	return exitOK
}

// reapChildren waits for every child that has exited.
func reapChildren() {
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if pid <= 0 || err != nil {
			return
		}
	}
}
