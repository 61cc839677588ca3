package slurm

import (
	"context"
	"errors"
	"sort"
	"strings"
	"time"
)

// poll follows every job the driver knows with one squeue call per tick
// (and one sacct call for the jobs squeue no longer knows), not a call
// per job: the cost of following jobs is flat in their number. A kick
// (a new or recovered job, a stop) polls at once.
func (d *Driver) poll() {
	ticker := time.NewTicker(d.cfg.pollInterval())
	defer ticker.Stop()
	for {
		select {
		case <-d.stop:
			return
		case <-ticker.C:
		case <-d.kick:
		}
		d.pollOnce(context.Background())
	}
}

// kickPoll has the poller poll now.
func (d *Driver) kickPoll() {
	select {
	case d.kick <- struct{}{}:
	default:
	}
}

// active is the tasks whose jobs have not ended, by job ID.
func (d *Driver) active() map[string][]*task {
	d.mu.RLock()
	defer d.mu.RUnlock()
	out := map[string][]*task{}
	for _, t := range d.tasks {
		if !t.done() {
			out[t.state.JobID] = append(out[t.state.JobID], t)
		}
	}
	return out
}

// pollOnce asks Slurm about every active job and updates its task. A
// failed squeue (the controller does not answer) changes nothing: the
// jobs are asked about again at the next tick.
func (d *Driver) pollOnce(ctx context.Context) {
	active := d.active()
	if len(active) == 0 {
		return
	}
	ids := make([]string, 0, len(active))
	for id := range active {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	jobs, err := d.squeue(ctx, ids)
	if err != nil {
		d.logger.Warn("squeue failed; the jobs are followed at the next poll", "jobs", len(ids), "error", err)
		return
	}
	var missing []string
	for _, id := range ids {
		if jobs[id] == nil {
			missing = append(missing, id)
		}
	}
	if len(missing) > 0 {
		if acct, err := d.sacct(ctx, missing); err == nil {
			for id, j := range acct {
				jobs[id] = j
			}
		} else {
			d.logger.Debug("sacct failed", "jobs", missing, "error", err)
		}
	}
	for id, ts := range active {
		for _, t := range ts {
			if j := jobs[id]; j != nil {
				t.observe(j)
			} else {
				t.miss()
			}
		}
	}
}

// squeue returns what the controller knows of the jobs, finished ones
// included (-t all: those it still remembers, for MinJobAge).
func (d *Driver) squeue(ctx context.Context, ids []string) (map[string]*jobInfo, error) {
	out, err := d.cli.run(ctx, "squeue", "-h", "-t", "all", "-j", strings.Join(ids, ","), "-O", squeueFormat)
	var ce *commandError
	if errors.As(err, &ce) && strings.Contains(ce.stderr, "Invalid job id") {
		return map[string]*jobInfo{}, nil // none of them is known any more
	}
	if err != nil {
		return nil, err
	}
	return parseSqueue(out), nil
}

// sacct returns what Slurm's accounting recorded of the jobs (fails where
// accounting is off).
func (d *Driver) sacct(ctx context.Context, ids []string) (map[string]*jobInfo, error) {
	out, err := d.cli.run(ctx, "sacct", "-n", "-P", "-X", "-j", strings.Join(ids, ","), "-o", sacctFormat)
	if err != nil {
		return nil, err
	}
	return parseSacct(out), nil
}
