package proxy

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
)

// Runner runs a program to completion with stdin and returns its stdout.
// The writers and the conntrack cleaner run iptables-restore, nft,
// sysctl and conntrack through it, so tests can run them in another
// network namespace. Implementations must be safe for concurrent use.
type Runner interface {
	Run(ctx context.Context, stdin []byte, name string, args ...string) ([]byte, error)
}

// ExecRunner runs programs directly, in the network namespace of the
// calling thread, or in the one at NetNS (say /run/netns/x) through
// nsenter. The nftables writer opens its netlink socket in the same
// namespace.
type ExecRunner struct {
	NetNS string
}

// NetNSPath is the namespace the programs run in; "" for the calling
// thread's.
func (r ExecRunner) NetNSPath() string { return r.NetNS }

// RunError is a program that failed: its exit status and what it wrote
// on stderr.
type RunError struct {
	Cmd      string
	ExitCode int
	Stderr   string
	Err      error
}

func (e *RunError) Error() string {
	return fmt.Sprintf("%s: %v: %s", e.Cmd, e.Err, strings.TrimSpace(e.Stderr))
}

func (e *RunError) Unwrap() error { return e.Err }

// Run runs name with args, stdin on its standard input.
func (r ExecRunner) Run(ctx context.Context, stdin []byte, name string, args ...string) ([]byte, error) {
	var argv []string
	if r.NetNS != "" {
		argv = []string{"nsenter", "--net=" + r.NetNS}
	}
	argv = append(append(argv, name), args...)
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		re := &RunError{Cmd: strings.Join(argv, " "), ExitCode: -1, Stderr: stderr.String(), Err: err}
		if ee, ok := err.(*exec.ExitError); ok {
			re.ExitCode = ee.ExitCode()
		}
		return stdout.Bytes(), re
	}
	return stdout.Bytes(), nil
}
