package network

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Network namespaces belong to threads. Code here that must run in
// another namespace than the process's (making a pod's namespace, running
// iptables in a test's "host" namespace) runs on a thread of its own that
// is thrown away afterwards, so no other goroutine ever runs in it.
// Netlink needs none of this: a netlink socket stays in the namespace it
// was opened in (netlink.NewHandleAt).

// onThread runs fn on an OS thread of its own that ends when fn returns.
func onThread(fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if unix.Gettid() == unix.Getpid() {
			// Go parks the main thread instead of ending it: keep it
			// locked here while a thread that can end does the work.
			errc <- onThread(fn)
			runtime.UnlockOSThread()
			return
		}
		// Not unlocked: Go ends a thread whose goroutine exits locked.
		errc <- fn()
	}()
	return <-errc
}

// inNetNS runs fn in the network namespace at path ("" for the
// process's own, where fn runs as is).
func inNetNS(path string, fn func() error) error {
	if path == "" {
		return fn()
	}
	return onThread(func() error {
		ns, err := netns.GetFromPath(path)
		if err != nil {
			return fmt.Errorf("open network namespace %s: %w", path, err)
		}
		defer ns.Close()
		if err := netns.Set(ns); err != nil {
			return fmt.Errorf("enter network namespace %s: %w", path, err)
		}
		return fn()
	})
}

// NewNamespace makes a new network namespace pinned at path (a new file),
// for what needs a network namespace of its own outside a pod (tests, a
// test harness's hosts). RemoveNamespace removes it.
func NewNamespace(path string) error { return createNetNS(path) }

// RemoveNamespace unpins and removes a namespace made by NewNamespace.
func RemoveNamespace(path string) error { return removeNetNS(path) }

// createNetNS makes a new network namespace and pins it by bind mounting
// it at path (a new empty file), as `ip netns add` does. A namespace
// already mounted there is kept.
func createNetNS(path string) error {
	if isNetNSMount(path) {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("network namespace directory: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE, 0o444)
	if err != nil {
		return fmt.Errorf("network namespace file: %w", err)
	}
	f.Close()
	err = onThread(func() error {
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			return fmt.Errorf("new network namespace: %w", err)
		}
		src := fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid())
		if err := unix.Mount(src, path, "none", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("pin network namespace at %s: %w", path, err)
		}
		return nil
	})
	if err != nil {
		_ = os.Remove(path)
	}
	return err
}

// removeNetNS unpins the namespace at path and removes the file; the
// kernel frees the namespace (and the links in it) once no process is
// left in it. A path that is not there is not an error.
func removeNetNS(path string) error {
	if err := unix.Unmount(path, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("unmount network namespace %s: %w", path, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove network namespace %s: %w", path, err)
	}
	return nil
}

// isNetNSMount reports whether a network namespace is mounted at path.
func isNetNSMount(path string) bool {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return false
	}
	return st.Type == unix.NSFS_MAGIC
}

// adoptNetNS pins the existing network namespace at from (a process's
// /proc/<pid>/ns/net) at path, as createNetNS pins a new one. The same
// namespace already pinned there is kept; another one is replaced.
func adoptNetNS(from, path string) error {
	if isNetNSMount(path) {
		if sameFile(from, path) {
			return nil
		}
		if err := removeNetNS(path); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("network namespace directory: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE, 0o444)
	if err != nil {
		return fmt.Errorf("network namespace file: %w", err)
	}
	f.Close()
	if err := unix.Mount(from, path, "none", unix.MS_BIND, ""); err != nil {
		_ = os.Remove(path)
		return fmt.Errorf("pin network namespace %s at %s: %w", from, path, err)
	}
	return nil
}

// sameFile reports whether a and b are the same inode (two paths of one
// namespace).
func sameFile(a, b string) bool {
	var sa, sb unix.Stat_t
	if unix.Stat(a, &sa) != nil || unix.Stat(b, &sb) != nil {
		return false
	}
	return sa.Dev == sb.Dev && sa.Ino == sb.Ino
}
