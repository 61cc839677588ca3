package exec

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/mk-orchestrator/mk/drivers"
	"github.com/mk-orchestrator/mk/drivers/exec/internal/mountns"
)

// The driver's side of a task's volume mounts (see the package comment):
// checking them and making their destinations before the waiter mounts
// them, seeing paths as the task will, and joining the task's mount
// namespace for ExecTask.

// mountTable is a task's mounts, sorted by target: a mount whose target is
// inside another's comes after it.
type mountTable []mountns.Mount

// newMountTable checks the form of a task's mounts and sorts them. It
// touches nothing on the host.
func newMountTable(ms []*drivers.MountConfig) (mountTable, error) {
	var t mountTable
	for _, m := range ms {
		if m == nil {
			continue
		}
		target := filepath.Clean(m.TaskPath)
		if !filepath.IsAbs(target) || target == "/" {
			return nil, fmt.Errorf("volume %q: destination %q must be an absolute path below /", m.Volume, m.TaskPath)
		}
		if !filepath.IsAbs(m.HostPath) {
			return nil, fmt.Errorf("volume %q: host path %q is not absolute", m.Volume, m.HostPath)
		}
		t = append(t, mountns.Mount{Volume: m.Volume, Source: filepath.Clean(m.HostPath), Target: target, ReadOnly: m.ReadOnly})
	}
	// A path sorts before the paths below it.
	sort.SliceStable(t, func(i, j int) bool { return t[i].Target < t[j].Target })
	for i := 1; i < len(t); i++ {
		if t[i].Target == t[i-1].Target {
			return nil, fmt.Errorf("volumes %q and %q are both mounted at %s", t[i-1].Volume, t[i].Volume, t[i].Target)
		}
	}
	return t, nil
}

// hostPath is where the host sees what the task sees at p: through the
// deepest mount whose target holds p, or p itself.
func (t mountTable) hostPath(p string) string {
	p = filepath.Clean(p)
	// Of two targets that hold p one holds the other, and sorts first.
	for i := len(t) - 1; i >= 0; i-- {
		m := t[i]
		if p == m.Target {
			return m.Source
		}
		if rest, ok := strings.CutPrefix(p, m.Target+"/"); ok {
			return filepath.Join(m.Source, rest)
		}
	}
	return p
}

// check fails, naming the volume, when a mount's source is not a
// directory or its destination exists as something else. The destination
// is looked for where the mount will be made: on the host, or in the
// source of a mount above it.
func (t mountTable) check() error {
	for i, m := range t {
		if m.File {
			if err := checkFileMount(t[:i], m); err != nil {
				return err
			}
			continue
		}
		if err := isDir(m.Source); err != nil {
			return fmt.Errorf("volume %q: source %s: %w", m.Volume, m.Source, err)
		}
		err := isDir(t[:i].hostPath(m.Target))
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("volume %q: destination %s: %w", m.Volume, m.Target, err)
		}
	}
	return nil
}

// makeDestinations creates the destinations that do not exist, empty,
// where check looked for them: a mount needs a directory to cover. The
// mount itself is seen by the task alone.
func (t mountTable) makeDestinations() error {
	for i, m := range t {
		if m.File {
			continue // checked: a file mount covers a file that is there
		}
		if err := os.MkdirAll(t[:i].hostPath(m.Target), 0o755); err != nil {
			return fmt.Errorf("volume %q: create destination %s: %w", m.Volume, m.Target, err)
		}
	}
	return nil
}

// checkFileMount fails unless a file mount's source is a regular file
// and its target a file that exists where the mount will be made (mk
// never creates files over the host's).
func checkFileMount(above mountTable, m mountns.Mount) error {
	if fi, err := os.Stat(m.Source); err != nil || !fi.Mode().IsRegular() {
		return fmt.Errorf("%s: source %s is not a file (%v)", m.Volume, m.Source, err)
	}
	if fi, err := os.Stat(above.hostPath(m.Target)); err != nil || fi.IsDir() {
		return fmt.Errorf("%s: %s is not a file on this node (%v)", m.Volume, m.Target, err)
	}
	return nil
}

// resolvConfMount is the mount of the pod's resolv.conf over
// /etc/resolv.conf, for a task in a pod's network namespace (whose name
// server is the pod gateway's, not the host's): none without one, or
// when a volume is mounted there.
func resolvConfMount(cfg *drivers.TaskConfig, mounts mountTable) mountTable {
	const target = "/etc/resolv.conf"
	if cfg.NetNSPath == "" || cfg.ResolvConfPath == "" {
		return nil
	}
	for _, m := range mounts {
		if m.Target == target {
			return nil
		}
	}
	return mountTable{{Volume: "resolv.conf", Source: filepath.Clean(cfg.ResolvConfPath), Target: target, File: true}}
}

// isDir returns an error (wrapping os.ErrNotExist when p is missing)
// unless p is a directory.
func isDir(p string) error {
	fi, err := os.Stat(p)
	if pe := (*fs.PathError)(nil); errors.As(err, &pe) {
		return pe.Err // the caller names the path
	}
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return errors.New("not a directory")
	}
	return nil
}

// taskNamespace is a namespace of a task that ExecTask joins: its name
// under /proc/PID/ns and its clone flag.
type taskNamespace struct {
	name string
	flag int
}

var (
	mountNamespace = []taskNamespace{{"mnt", unix.CLONE_NEWNS}}
	// networkNamespace is a task's in a pod's network namespace.
	networkNamespace = taskNamespace{"net", unix.CLONE_NEWNET}
	// isolatedNamespaces are an isolated task's; the mount namespace
	// last, since /proc is another there.
	isolatedNamespaces = []taskNamespace{{"ipc", unix.CLONE_NEWIPC}, {"uts", unix.CLONE_NEWUTS},
		{"pid", unix.CLONE_NEWPID}, {"mnt", unix.CLONE_NEWNS}}
)

// inNamespaces runs start on a thread that has joined the task's
// namespaces, so that what start forks sees the task's mounts (and, for
// an isolated task, its processes, host name and IPC objects: a joined
// PID namespace is the one of the thread's children).
func (t *task) inNamespaces(nss []taskNamespace, start func() error) error {
	return mountns.OnNewThread(func() error {
		fds := make([]int, 0, len(nss))
		defer func() {
			for _, fd := range fds {
				unix.Close(fd)
			}
		}()
		for _, ns := range nss {
			fd, err := unix.Open(fmt.Sprintf("/proc/%d/ns/%s", t.pid(), ns.name), unix.O_RDONLY|unix.O_CLOEXEC, 0)
			if err != nil {
				return fmt.Errorf("open the task's %s namespace: %w", ns.name, err)
			}
			fds = append(fds, fd)
		}
		// The descriptors pin the namespaces: a start time read after
		// opening them cannot belong to a later process with the PID.
		if err := checkStartTime(t.pid(), t.state.StartTime); err != nil {
			return err
		}
		// setns refuses a mount namespace to a thread that shares its
		// root and working directory with others, as Go's threads do.
		if err := unix.Unshare(unix.CLONE_FS); err != nil {
			return fmt.Errorf("unshare the thread's root and working directory: %w", err)
		}
		for i, ns := range nss {
			if err := unix.Setns(fds[i], ns.flag); err != nil {
				return fmt.Errorf("join the task's %s namespace: %w", ns.name, err)
			}
		}
		return start()
	})
}
