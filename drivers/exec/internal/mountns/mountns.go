// Package mountns gives an exec task with volume mounts a mount namespace
// of its own: the task's waiter (package waiter) makes it and the task's
// bind mounts before it starts the task, and the driver joins it to run a
// command in the task (ExecTask). It also joins a thread to a pod's
// network namespace (JoinNetwork), for the waiter to start the task in. The waiter runs from an init function,
// so this package imports only what the waiter already does (see package
// waiter): no golang.org/x/sys/unix.
//
// Namespaces, like the root and working directory that CLONE_FS shares,
// belong to a thread, not to a process, and a child inherits those of the
// thread that forked it. Both sides therefore work on a thread of their
// own (OnNewThread), which is thrown away afterwards: the process they run
// in stays in the host's namespace.
package mountns

import (
	"fmt"
	"runtime"
	"syscall"
)

// Mount is one bind mount of a task.
type Mount struct {
	// Volume names the mount in errors.
	Volume string
	// Source is the host directory, Target the absolute path at which the
	// task sees it.
	Source string
	Target string
	// ReadOnly refuses writes through the mount.
	ReadOnly bool
	// File: Source and Target are files, not directories (the pod's
	// resolv.conf over /etc/resolv.conf).
	File bool
}

// OnNewThread runs fn on an OS thread of its own, which ends when fn
// returns: fn may change the thread's namespaces, and what it starts
// inherits them, while no other goroutine ever runs in them.
func OnNewThread(fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if syscall.Gettid() == syscall.Getpid() {
			// The main thread is the one /proc/self shows, and Go parks
			// it rather than ending it: keep it busy (locked here) while
			// a thread that can end does the work.
			errc <- OnNewThread(fn)
			runtime.UnlockOSThread()
			return
		}
		// Not unlocked: Go ends a thread whose goroutine exits locked to
		// it, namespaces and all.
		errc <- fn()
	}()
	return <-errc
}

// Setup moves the calling thread (one of OnNewThread's) into a new mount
// namespace and makes mounts there, in order: a mount whose target is
// inside another's comes after it.
func Setup(mounts []Mount) error {
	// CLONE_NEWNS implies CLONE_FS: the thread's root and working
	// directory become its own too.
	if err := syscall.Unshare(syscall.CLONE_NEWNS); err != nil {
		return fmt.Errorf("new mount namespace: %w", err)
	}
	// The namespace's copies of the host's mounts become slaves of them:
	// the task's mounts propagate nowhere (the host never sees them),
	// while the host's mounts and unmounts below its shared mounts (all
	// of them, under systemd) still reach the task, so a long-lived task
	// does not pin filesystems the host has let go. Go's
	// SysProcAttr.Unshareflags makes them private, which would pin them.
	if err := syscall.Mount("", "/", "", syscall.MS_REC|syscall.MS_SLAVE, ""); err != nil {
		return fmt.Errorf("make the task's mounts slaves of the host's: %w", err)
	}
	for _, m := range mounts {
		if err := bind(m); err != nil {
			return fmt.Errorf("mount volume %q at %s: %w", m.Volume, m.Target, err)
		}
	}
	return nil
}

// stRelatime is statfs's ST_RELATIME, which is not MS_RELATIME (the other
// flags kept below have the same values in both).
const stRelatime = 0x1000

// bind mounts m.Source at m.Target, read-only if asked. It is not
// recursive: mounts below the source stay out of the task, so read-only
// covers all that the task sees through the mount.
func bind(m Mount) error {
	if err := syscall.Mount(m.Source, m.Target, "", syscall.MS_BIND, ""); err != nil {
		return err
	}
	if !m.ReadOnly {
		return nil
	}
	// A bind mount ignores MS_RDONLY; a remount applies it, and must keep
	// the source's nosuid, nodev, noexec and atime flags, which a user
	// namespace's root may not clear.
	var st syscall.Statfs_t
	if err := syscall.Statfs(m.Target, &st); err != nil {
		return fmt.Errorf("read-only remount: %w", err)
	}
	keep := uintptr(st.Flags) & (syscall.MS_NOSUID | syscall.MS_NODEV | syscall.MS_NOEXEC | syscall.MS_NOATIME | syscall.MS_NODIRATIME)
	if st.Flags&stRelatime != 0 {
		keep |= syscall.MS_RELATIME
	}
	if err := syscall.Mount("", m.Target, "", syscall.MS_BIND|syscall.MS_REMOUNT|syscall.MS_RDONLY|keep, ""); err != nil {
		return fmt.Errorf("read-only remount: %w", err)
	}
	return nil
}

// oPath is O_PATH (the same on every Linux architecture mk builds for):
// a descriptor that names a directory without opening it for reading.
const oPath = 0x200000

// SetupProcess makes mounts in the mount namespace the calling process
// was started in (an isolated task's init, cloned with CLONE_NEWNS, whose
// threads all share it), then, with proc, mounts a /proc of the process's
// PID namespace over the host's. Sources are opened before the first
// mount, so a mount over /tmp (the task's private one) does not hide the
// source of a later one.
func SetupProcess(mounts []Mount, proc bool) error {
	if err := syscall.Mount("", "/", "", syscall.MS_REC|syscall.MS_SLAVE, ""); err != nil {
		return fmt.Errorf("make the task's mounts slaves of the host's: %w", err)
	}
	fds := make([]int, len(mounts))
	for i, m := range mounts {
		flags := oPath | syscall.O_DIRECTORY | syscall.O_CLOEXEC
		if m.File {
			flags = oPath | syscall.O_CLOEXEC
		}
		fd, err := syscall.Open(m.Source, flags, 0)
		if err != nil {
			for _, fd := range fds[:i] {
				syscall.Close(fd)
			}
			return fmt.Errorf("mount volume %q at %s: open source %s: %w", m.Volume, m.Target, m.Source, err)
		}
		fds[i] = fd
	}
	defer func() {
		for _, fd := range fds {
			syscall.Close(fd)
		}
	}()
	for i, m := range mounts {
		src := m
		src.Source = fmt.Sprintf("/proc/self/fd/%d", fds[i])
		if err := bind(src); err != nil {
			return fmt.Errorf("mount volume %q at %s: %w", m.Volume, m.Target, err)
		}
	}
	if proc {
		if err := syscall.Mount("proc", "/proc", "proc", syscall.MS_NOSUID|syscall.MS_NODEV|syscall.MS_NOEXEC, ""); err != nil {
			return fmt.Errorf("mount the task's /proc: %w", err)
		}
	}
	return nil
}

// JoinNetwork moves the calling thread (one of OnNewThread's) into the
// network namespace pinned at path (a pod's): what the thread starts
// afterwards runs in it.
func JoinNetwork(path string) error {
	fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open the pod's network namespace: %w", err)
	}
	defer syscall.Close(fd)
	if _, _, errno := syscall.RawSyscall(sysSetns, uintptr(fd), syscall.CLONE_NEWNET, 0); errno != 0 {
		return fmt.Errorf("join the pod's network namespace %s: %w", path, errno)
	}
	return nil
}
