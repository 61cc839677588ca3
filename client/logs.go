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

// StreamLogs copies a task's stdout or stderr log to w; with follow it
// keeps copying what the task appends until ctx ends. A truncation (the
// driver's copy-truncate rotation) starts the copy over at the new end.
func (c *Client) StreamLogs(ctx context.Context, podID, task, stream string, follow bool, w io.Writer) error {
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
	flusher, _ := w.(interface{ Flush() })
	var offset int64
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
