package slurm

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"strings"

	"github.com/mk-orchestrator/mk/drivers"
)

var _ drivers.Reconciler = (*Driver)(nil)

// jobComment is the comment a task's job carries: mk:<node>:<pod>/<task>.
// Reconcile finds the jobs of a node by it, handle or not.
func jobComment(cfg *drivers.TaskConfig) string {
	return "mk:" + cfg.NodeID + ":" + cfg.ID
}

// Reconcile cancels the queued and running jobs that node nodeID
// submitted for pods that are not live (a client that died between
// sbatch and persisting the job's handle leaves such a job: nothing else
// would follow or stop it), and returns their job IDs. Jobs the driver
// follows are left alone.
func (d *Driver) Reconcile(ctx context.Context, nodeID string, livePods []string) ([]string, error) {
	out, err := d.cli.run(ctx, "squeue", "-h", "-o", "%i|%k")
	if err != nil {
		return nil, fmt.Errorf("reconcile: %w", err)
	}
	live := make(map[string]bool, len(livePods))
	for _, p := range livePods {
		live[p] = true
	}
	followed := map[string]bool{}
	for _, ts := range d.active() {
		for _, t := range ts {
			followed[t.state.JobID] = true
		}
	}
	var removed []string
	for _, j := range orphanJobs(out, nodeID, live) {
		if followed[j] {
			continue
		}
		if err := d.cancel(j, ""); err != nil {
			d.logger.Warn("cancel an orphaned job", "slurm_job_id", j, "error", err)
			continue
		}
		removed = append(removed, j)
	}
	return removed, nil
}

// orphanJobs reads `squeue -o %i|%k` and returns the jobs of node nodeID
// whose pods are not live. Array tasks count once, by their job.
func orphanJobs(out []byte, nodeID string, live map[string]bool) []string {
	prefix := "mk:" + nodeID + ":"
	seen := map[string]bool{}
	var ids []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		id, comment, ok := strings.Cut(strings.TrimSpace(sc.Text()), "|")
		if !ok || !strings.HasPrefix(comment, prefix) {
			continue
		}
		id, _, _ = strings.Cut(id, "_")
		pod, _, _ := strings.Cut(strings.TrimPrefix(comment, prefix), "/")
		if pod == "" || live[pod] || seen[id] {
			continue
		}
		seen[id] = true
		ids = append(ids, id)
	}
	return ids
}
