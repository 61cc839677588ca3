package client

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/mk-orchestrator/mk/structs"
)

// StreamLogs copies a task's stdout or stderr log to w, from the start or,
// with tail > 0, from the start of its last tail lines; with follow it
// keeps copying what the task appends until ctx ends. A truncation (the
// driver's copy-truncate rotation) starts the copy over at the new end.
func (c *Client) StreamLogs(ctx context.Context, podID, task, stream string, follow bool, tail int, w io.Writer) error {
	if stream != "stdout" && stream != "stderr" {
		return structs.NewBadRequest("log type must be stdout or stderr, got %q", stream)
	}
	pod, err := c.localPod(podID)
	if err != nil {
		return err
	}
	if task, err = podTaskName(pod, task); err != nil {
		return err
	}
	path := filepath.Join(c.config.DataDir, "pods", podID, task, stream+".log")
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("%w: no %s log for task %q of pod %s", structs.ErrNotFound, stream, task, pod.Name)
	}
	defer f.Close()
	offset, err := seekTail(f, tail)
	if err != nil {
		return fmt.Errorf("%s log of task %q: %w", stream, task, err)
	}
	flusher, _ := w.(interface{ Flush() })
	for {
		n, err := io.Copy(w, f)
		offset += n
		if err != nil {
			return err
		}
		if !follow {
			return nil
		}
		if flusher != nil && n > 0 {
			flusher.Flush()
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(250 * time.Millisecond):
		}
		if st, err := f.Stat(); err == nil && st.Size() < offset {
			offset, _ = f.Seek(0, io.SeekStart)
		}
	}
}

// tailChunk is how much of a log seekTail reads at a time, backwards.
const tailChunk = 32 << 10

// seekTail moves f to the start of its last n lines (n <= 0: stays at the
// start) and returns that offset. A last line without its newline counts
// as a line.
func seekTail(f *os.File, n int) (int64, error) {
	if n <= 0 {
		return 0, nil
	}
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	start, err := tailOffset(f, st.Size(), n)
	if err != nil {
		return 0, err
	}
	return f.Seek(start, io.SeekStart)
}

// tailOffset returns where the last n (> 0) lines of the size bytes of r
// begin, reading backwards a chunk at a time.
func tailOffset(r io.ReaderAt, size int64, n int) (int64, error) {
	buf := make([]byte, tailChunk)
	end := size
	newlines := 0
	for end > 0 {
		start := max(end-tailChunk, 0)
		chunk := buf[:end-start]
		if _, err := r.ReadAt(chunk, start); err != nil && err != io.EOF {
			return 0, err
		}
		for i := len(chunk) - 1; i >= 0; i-- {
			if chunk[i] != '\n' || start+int64(i) == size-1 {
				continue // the log's final newline ends the last line
			}
			if newlines++; newlines == n {
				return start + int64(i) + 1, nil
			}
		}
		end = start
	}
	return 0, nil
}

// localPod returns a pod this client runs or ran (from its local state).
func (c *Client) localPod(podID string) (*structs.Pod, error) {
	c.mu.Lock()
	r, ok := c.runners[podID]
	c.mu.Unlock()
	if ok {
		return r.pod, nil
	}
	recs, err := c.db.Pods()
	if err != nil {
		return nil, err
	}
	for _, rec := range recs {
		if rec.Pod.ID == podID {
			return rec.Pod, nil
		}
	}
	return nil, structs.NotFoundError("pod on this node", podID)
}

// ResolvePod finds a pod this client runs or ran by its ID or a unique
// prefix of it.
func (c *Client) ResolvePod(ref string) (string, bool) {
	if ref == "" {
		return "", false
	}
	ids := map[string]bool{}
	c.mu.Lock()
	for id := range c.runners {
		ids[id] = true
	}
	c.mu.Unlock()
	if recs, err := c.db.Pods(); err == nil {
		for _, rec := range recs {
			ids[rec.Pod.ID] = true
		}
	}
	if ids[ref] {
		return ref, true
	}
	match := ""
	for id := range ids {
		if strings.HasPrefix(id, ref) {
			if match != "" {
				return "", false // ambiguous: the servers say so with the candidates
			}
			match = id
		}
	}
	return match, match != ""
}
