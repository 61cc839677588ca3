package docker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/pkg/stdcopy"

	"github.com/mk-orchestrator/mk/drivers"
)

// LogConfig sets the size-based rotation of task logs, as exec's.
type LogConfig struct {
	// MaxBytes is the size at which a log file is rotated.
	MaxBytes int64
	// MaxFiles is how many files a log keeps, the live one included.
	MaxFiles int
}

// DefaultLogConfig keeps 3 files of 10 MB.
var DefaultLogConfig = LogConfig{MaxBytes: 10 << 20, MaxFiles: 3}

// drainWait bounds how long a stopped container's last lines may take to
// reach its files.
const drainWait = 5 * time.Second

// positionFile holds, beside a task's logs, the Engine timestamp of the
// last line written to them.
const positionFile = ".mk-docker-logpos"

func positionPath(cfg *drivers.TaskConfig) string {
	return filepath.Join(filepath.Dir(cfg.StdoutPath), positionFile)
}

// logFollower copies a container's output into the task's log files.
type logFollower struct {
	cancel context.CancelFunc
	done   chan struct{}
}

// drain waits (bounded) for the follower to write the last lines of a
// container that stopped: its stream ends once the Engine sent them.
func (f *logFollower) drain() {
	select {
	case <-f.done:
	case <-time.After(drainWait):
	}
}

// stop ends the follower.
func (f *logFollower) stop() {
	f.cancel()
	<-f.done
}

// followLogs follows the container's output from the position its task's
// logs reached (from the start for a new container).
func (d *Driver) followLogs(parent context.Context, cfg *drivers.TaskConfig, id string, recovered bool) *logFollower {
	ctx, cancel := context.WithCancel(parent)
	f := &logFollower{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(f.done)
		if err := d.copyLogs(ctx, cfg, id, recovered); err != nil && ctx.Err() == nil {
			d.logger.Warn("following container logs stopped", "task_id", cfg.ID, "error", err)
		}
	}()
	return f
}

// copyLogs follows the Engine's log stream until the container stops,
// reconnecting (from the last line written) when the stream breaks while
// it runs.
func (d *Driver) copyLogs(ctx context.Context, cfg *drivers.TaskConfig, id string, recovered bool) error {
	pos, err := openPosition(positionPath(cfg), !recovered)
	if err != nil {
		return err
	}
	defer pos.close()
	out, err := newLogFile(cfg.StdoutPath, d.logCfg)
	if err != nil {
		return err
	}
	defer out.close()
	errf, err := newLogFile(cfg.StderrPath, d.logCfg)
	if err != nil {
		return err
	}
	defer errf.close()
	stdout, stderr := &lineWriter{file: out, pos: pos}, &lineWriter{file: errf, pos: pos}
	for ctx.Err() == nil {
		opts := container.LogsOptions{ShowStdout: true, ShowStderr: true, Follow: true, Timestamps: true}
		if !pos.last.IsZero() {
			opts.Since = fmt.Sprintf("%d.%09d", pos.last.Unix(), pos.last.Nanosecond())
		}
		rc, err := d.docker.ContainerLogs(ctx, id, opts)
		if err == nil {
			_, err = stdcopy.StdCopy(stdout, stderr, rc)
			rc.Close()
		}
		if cerrdefs.IsNotFound(err) || !d.running(ctx, id) {
			return nil
		}
		select {
		case <-ctx.Done():
		case <-time.After(waitRetry):
		}
	}
	return nil
}

// running reports whether the container runs (or the Engine cannot say).
func (d *Driver) running(ctx context.Context, id string) bool {
	info, err := d.docker.ContainerInspect(ctx, id)
	if err != nil {
		return !cerrdefs.IsNotFound(err)
	}
	return info.State != nil && info.State.Running
}

// position is the timestamp of the last line written, kept in a file
// that is overwritten in place.
type position struct {
	f    *os.File
	last time.Time
}

// positionWidth is the fixed size of the position file's record.
const positionWidth = 40

func openPosition(path string, fresh bool) (*position, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("log directory: %w", err)
	}
	flags := os.O_RDWR | os.O_CREATE
	if fresh {
		flags |= os.O_TRUNC
	}
	f, err := os.OpenFile(path, flags, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open log position: %w", err)
	}
	p := &position{f: f}
	buf := make([]byte, positionWidth)
	if n, err := f.ReadAt(buf, 0); n > 0 && (err == nil || errors.Is(err, io.EOF)) {
		p.last, _ = time.Parse(time.RFC3339Nano, strings.TrimSpace(string(buf[:n])))
	}
	return p, nil
}

func (p *position) set(t time.Time) error {
	p.last = t
	rec := fmt.Sprintf("%-*s", positionWidth, t.UTC().Format(time.RFC3339Nano))
	if _, err := p.f.WriteAt([]byte(rec), 0); err != nil {
		return fmt.Errorf("write log position: %w", err)
	}
	return nil
}

func (p *position) close() { p.f.Close() }

// lineWriter takes the Engine's timestamped lines of one stream, skips
// those at or before the position (sent again after a reconnect) and
// writes the rest, without their timestamps, to its file.
type lineWriter struct {
	file    *logFile
	pos     *position
	partial []byte
}

func (w *lineWriter) Write(b []byte) (int, error) {
	w.partial = append(w.partial, b...)
	for {
		i := bytes.IndexByte(w.partial, '\n')
		if i < 0 {
			return len(b), nil
		}
		line := w.partial[:i+1]
		if err := w.line(line); err != nil {
			return 0, err
		}
		w.partial = w.partial[i+1:]
	}
}

func (w *lineWriter) line(line []byte) error {
	ts, msg, ok := bytes.Cut(line, []byte(" "))
	if !ok {
		_, err := w.file.write(line)
		return err
	}
	at, err := time.Parse(time.RFC3339Nano, string(ts))
	if err != nil {
		_, err = w.file.write(line)
		return err
	}
	if !at.After(w.pos.last) {
		return nil
	}
	if _, err := w.file.write(msg); err != nil {
		return err
	}
	return w.pos.set(at)
}

// logFile is a log the driver writes and rotates itself: past MaxBytes
// it copies the file to path.1 (shifting older ones up) and truncates it,
// so readers that follow the file by name and offset see a truncation,
// as with exec's logs.
type logFile struct {
	path string
	cfg  LogConfig
	f    *os.File
	size int64
}

func newLogFile(path string, cfg LogConfig) (*logFile, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("log directory: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open log: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("stat log: %w", err)
	}
	return &logFile{path: path, cfg: cfg, f: f, size: st.Size()}, nil
}

func (l *logFile) write(b []byte) (int, error) {
	if l.cfg.MaxBytes > 0 && l.size > 0 && l.size+int64(len(b)) > l.cfg.MaxBytes {
		if err := l.rotate(); err != nil {
			return 0, err
		}
	}
	n, err := l.f.Write(b)
	l.size += int64(n)
	if err != nil {
		return n, fmt.Errorf("write log %s: %w", l.path, err)
	}
	return n, nil
}

func (l *logFile) rotate() error {
	for i := l.cfg.MaxFiles - 1; i > 1; i-- {
		_ = os.Rename(fmt.Sprintf("%s.%d", l.path, i-1), fmt.Sprintf("%s.%d", l.path, i))
	}
	if l.cfg.MaxFiles > 1 {
		if err := copyFile(l.path, l.path+".1"); err != nil {
			return fmt.Errorf("rotate log %s: %w", l.path, err)
		}
	}
	if err := l.f.Truncate(0); err != nil {
		return fmt.Errorf("rotate log %s: %w", l.path, err)
	}
	l.size = 0
	return nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func (l *logFile) close() { l.f.Close() }
