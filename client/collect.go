package client

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/mk-orchestrator/mk/structs"
)

// collectPod ends a pod the servers no longer list for this node
// (collected, or placed elsewhere): its tasks stop, then what it left
// here goes.
func (c *Client) collectPod(id string, r *podRunner) {
	r.stop()
	c.mu.Lock()
	if c.runners[id] == r {
		delete(c.runners, id)
	}
	delete(c.stopped, id)
	c.mu.Unlock()
	c.removePod(r.pod)
}

// removePod removes a stopped pod's directory (its tasks' directories,
// logs and volumes) and its local state. The driver freed the tasks'
// cgroups when they stopped.
func (c *Client) removePod(p *structs.Pod) {
	c.destroyNetwork(p)
	if err := c.removePodFiles(p); err != nil {
		c.logger.Error("remove collected pod", "pod", p.ID, "error", err)
		return
	}
	c.logger.Debug("removed collected pod", "pod", p.ID, "name", p.Name)
}

func (c *Client) removePodFiles(p *structs.Pod) error {
	if p.ID == "" || p.ID != filepath.Base(p.ID) || p.ID == "." || p.ID == ".." {
		return fmt.Errorf("pod ID %q is not a directory name", p.ID)
	}
	dir := filepath.Join(c.config.DataDir, "pods", p.ID)
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("remove pod dir: %w", err)
	}
	var tasks []string
	if p.Template != nil {
		for _, t := range p.Template.Tasks {
			tasks = append(tasks, t.Name)
		}
	}
	if err := c.db.DeletePod(p.ID, tasks); err != nil {
		return fmt.Errorf("delete pod %s from local state: %w", p.ID, err)
	}
	return nil
}
