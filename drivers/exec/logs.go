package exec

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/hashicorp/go-hclog"
)

// Logs: the task writes its stdout and stderr straight into files the
// driver opened O_APPEND, not into pipes. A pipe would die with the driver
// (a plugin restart) and the task would get SIGPIPE or block; a file
// outlives the driver, so a recovered task keeps logging. The price is
// that the driver cannot rotate by switching files under the task: it
// rotates by copy-truncate instead. When a file passes MaxBytes the driver
// shifts path.1 … path.N-1 up by one, copies the file to path.1 and
// truncates it to zero; O_APPEND makes the task's next write land at the
// new end. Lines written between the copy and the truncate are lost, and a
// file can pass MaxBytes by what the task writes within one check
// interval.

// LogConfig sets the size-based rotation of task logs.
type LogConfig struct {
	// MaxBytes is the size at which a log file is rotated.
	MaxBytes int64
	// MaxFiles is how many files a log keeps, the live one included.
	MaxFiles int
	// CheckInterval is how often sizes are checked.
	CheckInterval time.Duration
}

// DefaultLogConfig keeps 3 files of 10 MB, checked every second.
var DefaultLogConfig = LogConfig{MaxBytes: 10 << 20, MaxFiles: 3, CheckInterval: time.Second}

// openLog opens (creating it and its directory) a log file for the task to
// append to.
func openLog(path string) (*os.File, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("log directory: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open log: %w", err)
	}
	return f, nil
}

// rotator rotates a task's log files until stopped.
type rotator struct {
	cfg    LogConfig
	paths  []string
	logger hclog.Logger
	stop   chan struct{}
	done   chan struct{}
}

// startRotator starts rotating paths in the background.
func startRotator(cfg LogConfig, logger hclog.Logger, paths ...string) *rotator {
	r := &rotator{cfg: cfg, paths: paths, logger: logger, stop: make(chan struct{}), done: make(chan struct{})}
	go r.run()
	return r
}

func (r *rotator) run() {
	defer close(r.done)
	t := time.NewTicker(r.cfg.CheckInterval)
	defer t.Stop()
	for {
		select {
		case <-r.stop:
			r.check() // a last rotation for what the task wrote at the end
			return
		case <-t.C:
			r.check()
		}
	}
}

// Stop stops the rotator and waits for it.
func (r *rotator) Stop() {
	close(r.stop)
	<-r.done
}

func (r *rotator) check() {
	for _, p := range r.paths {
		if p == "" {
			continue
		}
		if err := rotateIfLarge(p, r.cfg); err != nil {
			r.logger.Warn("log rotation failed", "path", p, "error", err)
		}
	}
}

// rotateIfLarge rotates path by copy-truncate when it is MaxBytes or more.
func rotateIfLarge(path string, cfg LogConfig) error {
	fi, err := os.Stat(path)
	if err != nil {
		if os.IsNotExist(err) {
			return nil
		}
		return fmt.Errorf("stat log: %w", err)
	}
	if fi.Size() < cfg.MaxBytes {
		return nil
	}
	if cfg.MaxFiles <= 1 {
		return os.Truncate(path, 0)
	}
	for i := cfg.MaxFiles - 1; i > 1; i-- {
		older, newer := fmt.Sprintf("%s.%d", path, i), fmt.Sprintf("%s.%d", path, i-1)
		if err := os.Rename(newer, older); err != nil && !os.IsNotExist(err) {
			return fmt.Errorf("shift log: %w", err)
		}
	}
	if err := copyFile(path, path+".1"); err != nil {
		return err
	}
	if err := os.Truncate(path, 0); err != nil {
		return fmt.Errorf("truncate log: %w", err)
	}
	return nil
}

// copyFile copies src to a new dst.
func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("open log: %w", err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("create rotated log: %w", err)
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("copy log: %w", err)
	}
	if err := out.Close(); err != nil {
		return fmt.Errorf("close rotated log: %w", err)
	}
	return nil
}
