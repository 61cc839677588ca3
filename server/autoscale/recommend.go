// Package autoscale is the arithmetic of mk's horizontal autoscaler, as
// Kubernetes' HPA does it: the count one metric asks for (Recommend), and
// the decision after the stabilization window, the scale-up limit, min and
// max and the scale-up cooldown (History.Decide). It does no I/O and reads
// no clock: the leader's autoscaler loop (server/autoscaler.go) gives it
// the pods, their samples and the time.
package autoscale

import "math"

// Tolerance is how far usage may be from the target, as a fraction of it,
// before the count changes (Kubernetes' default, 0.1).
const Tolerance = 0.1

// Pod is one pod of a group as a metric sees it.
type Pod struct {
	// Ready: running, healthy and not being stopped. A pod that is not
	// ready yet (starting, failing its checks) is left out of the usage,
	// and counts as using nothing when the group would scale out.
	Ready bool
	// Sampled: the leader has a fresh sample of the pod. A ready pod
	// without one counts as using nothing on a scale-out and as using
	// all it asked for (or the target, when higher) on a scale-in.
	Sampled bool
	// Usage and Request are in the same unit (MHz, bytes): what the pod
	// uses and what its tasks' resources ask for.
	Usage   float64
	Request float64
}

// Metric is one target of an autoscaler over the group's pods.
type Metric struct {
	Name          string // "cpu", "memory"
	TargetPercent int
	Pods          []Pod
}

// Recommendation is the count one metric asks for.
type Recommendation struct {
	Metric        string
	TargetPercent int
	// Valid is false when no ready pod has a sample: the metric asks for
	// nothing.
	Valid bool
	// UsagePercent is the ready, sampled pods' use as a percent of what
	// they asked for.
	UsagePercent float64
	// Desired is the count the metric asks for (the current one when
	// usage is within the tolerance).
	Desired int
	// Tolerated is true when usage within the tolerance kept a count
	// that the plain formula, ceil(ready × usage / target), would have
	// changed.
	Tolerated bool
}

// Recommend computes the count metric m asks for when the group's count
// is current, as Kubernetes' replica calculator does: ceil(ready ×
// usage / target) over the ready pods with samples, no change within the
// tolerance, and, when pods are missing samples or not ready yet, the
// usage recomputed with them assumed idle (scale-out) or fully used
// (scale-in), giving up the change should that reverse its direction.
func Recommend(current int, m Metric, tolerance float64) Recommendation {
	r := Recommendation{Metric: m.Name, TargetPercent: m.TargetPercent, Desired: current}
	var usage, request, reqMissing, reqUnready float64
	var ready, missing, unready int
	for _, p := range m.Pods {
		switch {
		case !p.Ready:
			unready++
			reqUnready += p.Request
		case !p.Sampled:
			missing++
			reqMissing += p.Request
		default:
			ready++
			usage += p.Usage
			request += p.Request
		}
	}
	if ready == 0 || request <= 0 || m.TargetPercent <= 0 {
		return r
	}
	r.Valid = true
	target := float64(m.TargetPercent)
	r.UsagePercent = usage / request * 100
	ratio := r.UsagePercent / target
	plain := int(math.Ceil(ratio * float64(ready)))
	withUnready := unready > 0 && ratio > 1
	if !withUnready && missing == 0 {
		if math.Abs(1-ratio) <= tolerance {
			r.Tolerated = plain != current
			return r
		}
		r.Desired = plain
		return r
	}
	n := ready
	if missing > 0 && ratio != 1 {
		if ratio < 1 {
			usage += reqMissing * math.Max(100, target) / 100
		}
		request += reqMissing
		n += missing
	}
	if withUnready {
		request += reqUnready
		n += unready
	}
	newRatio := usage / request * 100 / target
	if math.Abs(1-newRatio) <= tolerance {
		r.Tolerated = plain != current
		return r
	}
	if ratio < 1 && newRatio > 1 || ratio > 1 && newRatio < 1 {
		return r // the unsampled pods would reverse the direction
	}
	desired := int(math.Ceil(newRatio * float64(n)))
	if newRatio < 1 && desired > current || newRatio > 1 && desired < current {
		return r
	}
	r.Desired = desired
	return r
}

// Combine is the count an autoscaler with several metrics asks for: the
// highest any valid metric asks for (as Kubernetes), and whether any metric
// was valid.
func Combine(recs []Recommendation) (int, bool) {
	desired, valid := 0, false
	for _, r := range recs {
		if r.Valid {
			desired, valid = max(desired, r.Desired), true
		}
	}
	return desired, valid
}
