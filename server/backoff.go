package server

import (
	"time"

	"github.com/mk-orchestrator/mk/structs"
)

// replacementBackoff spaces out the replacements of pods that keep
// failing, as Kubernetes' CrashLoopBackOff and Nomad's reschedule delay
// do, so a task that can never run does not turn into a storm of pods.
// It is computed from state alone (level-triggered): the failed pods of
// an owner within window, and when the latest one failed.
type replacementBackoff struct {
	// base is the wait after the second failure in a row; each further
	// failure doubles it, up to max. The first failure is replaced at once.
	base, max time.Duration
	// window is how far back failures count.
	window time.Duration
}

// rescheduleWindow is how long a failure counts toward an owner's backoff.
const rescheduleWindow = 10 * time.Minute

// wait returns how much longer the owner of pods must wait before it
// starts another pod, at now (unix nanos); 0 when it need not.
func (b replacementBackoff) wait(pods []*structs.Pod, now int64) time.Duration {
	if b.base <= 0 {
		return 0
	}
	var failures int
	var last int64
	for _, p := range pods {
		// Only pods that failed on their own while wanted running count
		// (replaced since, or not yet): not lost ones (their node failed)
		// nor ones the servers stopped.
		wanted := p.DesiredStatus == structs.PodDesiredRun || p.DesiredReason == reasonReplaced
		if p.Phase != structs.PodPhaseFailed || !wanted || now-p.ModifyTime > int64(b.window) {
			continue
		}
		failures++
		last = max(last, p.ModifyTime)
	}
	if failures < 2 {
		return 0
	}
	delay := b.base
	for i := 2; i < failures && delay < b.max; i++ {
		delay *= 2
	}
	delay = min(delay, b.max)
	return max(time.Duration(last+int64(delay)-now), 0)
}
