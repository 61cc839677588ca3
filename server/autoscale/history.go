package autoscale

import (
	"fmt"
	"time"
)

// Policy is an autoscaler's bounds and timing.
type Policy struct {
	Min, Max int
	// ScaleUpCooldown is the least time between a scale (the
	// autoscaler's or a user's) and the next scale-out.
	ScaleUpCooldown time.Duration
	// ScaleDownWindow is the scale-in stabilization window: the group
	// scales in only to the highest count asked for within it.
	ScaleDownWindow time.Duration
}

// ScaleUpLimit is the most a scale-out may reach from current in one
// step: Kubernetes' max(2 × current, 4).
func ScaleUpLimit(current int) int { return max(2*current, 4) }

type recommendation struct {
	at    time.Time
	count int
}

// History is what one autoscaler remembers between passes: the counts
// its metrics asked for within the scale-down window, and when the group
// last scaled. Only the leader keeps it, in memory; a new leader starts a
// new one (see Observe). Not safe for concurrent use.
type History struct {
	recs      []recommendation
	lastScale time.Time
	count     int
	known     bool
}

// Observe gives the history the group's count. The first count it sees
// (a new autoscaler, or a new leader) counts as asked for now, so a new
// leader scales in only after a scale-down window of its own. A count the
// autoscaler did not set (`mk job scale`) counts as a scale now: it holds
// a scale-in for the window and a scale-out for the cooldown.
func (h *History) Observe(now time.Time, count int) {
	switch {
	case !h.known:
		h.known, h.count = true, count
		h.recs = append(h.recs, recommendation{now, count})
	case count != h.count:
		h.count, h.lastScale = count, now
		h.recs = append(h.recs, recommendation{now, count})
	}
}

// Applied records that the autoscaler set the group's count at now.
func (h *History) Applied(now time.Time, count int) {
	h.count, h.lastScale, h.known = count, now, true
}

// Decision is an autoscaler's verdict on one pass.
type Decision struct {
	Current int
	// Proposed is what the metrics asked for; Desired the count after
	// the window, the scale-up limit, min, max and the cooldown.
	Proposed int
	Desired  int
	// Held says what kept Desired from Proposed ("" when nothing did).
	Held string
}

// Decide turns the count the metrics propose into the group's next count
// and remembers the proposal for the window. Observe must have seen
// current. The rules, in order, are Kubernetes' (behavior defaults)
// with mk's scale-up cooldown added:
//   - a scale-in goes only down to the highest proposal within the
//     scale-down window;
//   - a scale-out reaches at most ScaleUpLimit(current);
//   - the count stays within [min, max];
//   - a scale-out waits until ScaleUpCooldown has passed since the last
//     scale.
func (h *History) Decide(now time.Time, current, proposed int, p Policy) Decision {
	h.prune(now, p.ScaleDownWindow)
	d := Decision{Current: current, Proposed: proposed, Desired: proposed}
	if proposed < current {
		hold := proposed
		for _, r := range h.recs {
			hold = max(hold, r.count)
		}
		if hold > max(proposed, p.Min) {
			d.Desired = min(current, hold)
			d.Held = fmt.Sprintf("scale-in stabilization: %d asked for within the last %s (scale_down_cooldown)", hold, p.ScaleDownWindow)
		}
	}
	h.recs = append(h.recs, recommendation{now, proposed})
	if limit := ScaleUpLimit(current); d.Desired > current && d.Desired > limit {
		d.Desired = limit
		d.Held = fmt.Sprintf("a step scales out to at most max(2 × %d, 4) = %d", current, limit)
	}
	switch {
	case d.Desired > p.Max:
		d.Desired, d.Held = p.Max, fmt.Sprintf("scaling.max is %d", p.Max)
	case d.Desired < p.Min:
		d.Desired, d.Held = p.Min, fmt.Sprintf("scaling.min is %d", p.Min)
	}
	if d.Desired > current && current >= p.Min && !h.lastScale.IsZero() {
		if since := now.Sub(h.lastScale); since < p.ScaleUpCooldown {
			d.Held = fmt.Sprintf("scale-out waits for scale_up_cooldown (%s): the last scale was %s ago",
				p.ScaleUpCooldown, since.Round(time.Second))
			d.Desired = current
		}
	}
	return d
}

// prune forgets proposals older than the window.
func (h *History) prune(now time.Time, window time.Duration) {
	keep := h.recs[:0]
	for _, r := range h.recs {
		if now.Sub(r.at) < window {
			keep = append(keep, r)
		}
	}
	h.recs = keep
}
