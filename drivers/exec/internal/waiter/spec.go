package waiter

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"syscall"

	"github.com/mk-orchestrator/mk/drivers/exec/internal/mountns"
)

// Spec is what the driver tells the waiter to run.
type Spec struct {
	// Argv is the task's command, argv[0] resolved.
	Argv []string
	Env  []string
	Dir  string
	// Cred is the user to run as; nil runs as the waiter's (root).
	Cred *syscall.Credential
	// ExitFile is where the task's exit is written.
	ExitFile string
	// Mounts, when there are any, are made in a mount namespace of the
	// task's own, in order.
	Mounts []mountns.Mount
	// Isolate runs the task under an init of its own (InitCommand) in new
	// PID, IPC, UTS and mount namespaces, with a /proc of its PID
	// namespace.
	Isolate bool
	// Hostname is the task's host name in its UTS namespace (Isolate).
	Hostname string
	// NetNS is the pod's network namespace the task runs in ("" for the
	// host's).
	NetNS string
}

// Encode writes s as key and value pairs of NUL-terminated strings: NUL
// is the one byte an argument, an environment entry or a path cannot
// hold. Lists repeat their key; a mount is its target ("mount") followed
// by its other fields.
func (s *Spec) Encode() []byte {
	var b []byte
	put := func(k, v string) { b = append(append(append(append(b, k...), 0), v...), 0) }
	put("exit", s.ExitFile)
	put("dir", s.Dir)
	for _, a := range s.Argv {
		put("arg", a)
	}
	for _, e := range s.Env {
		put("env", e)
	}
	if c := s.Cred; c != nil {
		put("uid", strconv.FormatUint(uint64(c.Uid), 10))
		put("gid", strconv.FormatUint(uint64(c.Gid), 10))
		for _, g := range c.Groups {
			put("group", strconv.FormatUint(uint64(g), 10))
		}
	}
	if s.Isolate {
		put("isolate", "1")
		put("hostname", s.Hostname)
	}
	if s.NetNS != "" {
		put("netns", s.NetNS)
	}
	for _, m := range s.Mounts {
		put("mount", m.Target)
		put("mount-src", m.Source)
		put("mount-vol", m.Volume)
		if m.ReadOnly {
			put("mount-ro", "1")
		}
		if m.File {
			put("mount-file", "1")
		}
	}
	return b
}

// DecodeSpec reads what Encode wrote.
func DecodeSpec(b []byte) (*Spec, error) {
	var fields []string
	for len(b) > 0 {
		i := indexNUL(b)
		if i < 0 {
			return nil, errors.New("decode spec: unterminated field")
		}
		fields, b = append(fields, string(b[:i])), b[i+1:]
	}
	if len(fields)%2 != 0 {
		return nil, errors.New("decode spec: a key without a value")
	}
	s := &Spec{}
	for i := 0; i < len(fields); i += 2 {
		if err := s.set(fields[i], fields[i+1]); err != nil {
			return nil, err
		}
	}
	if len(s.Argv) == 0 || s.ExitFile == "" {
		return nil, errors.New("decode spec: no command or exit file")
	}
	return s, nil
}

// set applies one key and value.
func (s *Spec) set(k, v string) error {
	switch k {
	case "exit":
		s.ExitFile = v
	case "dir":
		s.Dir = v
	case "arg":
		s.Argv = append(s.Argv, v)
	case "isolate":
		s.Isolate = v == "1"
	case "hostname":
		s.Hostname = v
	case "netns":
		s.NetNS = v
	case "env":
		s.Env = append(s.Env, v)
	case "uid", "gid", "group":
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return fmt.Errorf("decode spec: %s: %w", k, err)
		}
		if s.Cred == nil {
			s.Cred = &syscall.Credential{}
		}
		switch k {
		case "uid":
			s.Cred.Uid = uint32(n)
		case "gid":
			s.Cred.Gid = uint32(n)
		default:
			s.Cred.Groups = append(s.Cred.Groups, uint32(n))
		}
	case "mount":
		s.Mounts = append(s.Mounts, mountns.Mount{Target: v})
	case "mount-src", "mount-vol", "mount-ro", "mount-file":
		if len(s.Mounts) == 0 {
			return fmt.Errorf("decode spec: %s before any mount", k)
		}
		m := &s.Mounts[len(s.Mounts)-1]
		switch k {
		case "mount-src":
			m.Source = v
		case "mount-vol":
			m.Volume = v
		case "mount-file":
			m.File = v == "1"
		default:
			m.ReadOnly = v == "1"
		}
	default:
		return fmt.Errorf("decode spec: unknown key %q", k)
	}
	return nil
}

func indexNUL(b []byte) int {
	for i, c := range b {
		if c == 0 {
			return i
		}
	}
	return -1
}

// Exit is the content of an exit file (JSON).
type Exit struct {
	ExitCode int
	// Signal is the signal that killed the task, 0 when it exited.
	Signal int
}

// ExitOf is how a wait status reads as an exit: a death by signal is also
// exit code 128+signal, as a shell reports it.
func ExitOf(ws syscall.WaitStatus) Exit {
	if ws.Signaled() {
		return Exit{ExitCode: 128 + int(ws.Signal()), Signal: int(ws.Signal())}
	}
	return Exit{ExitCode: ws.ExitStatus()}
}

// WriteExitFile writes e to path as JSON (without encoding/json: see the
// package comment), atomically: a reader sees the whole record or no file.
func WriteExitFile(path string, e Exit) error {
	b := fmt.Appendf(nil, `{"ExitCode":%d,"Signal":%d}`+"\n", e.ExitCode, e.Signal)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return fmt.Errorf("write exit file: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("write exit file: %w", err)
	}
	return nil
}
