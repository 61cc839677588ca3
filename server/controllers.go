package server

import (
	"context"
	"time"

	memdb "github.com/hashicorp/go-memdb"

	"github.com/mk-orchestrator/mk/server/state"
	"github.com/mk-orchestrator/mk/structs"
)

// A pass writes its pods entry after entry, each once the previous one is
// applied. Every server applies the log in order, so registers that land
// behind a large pod entry wait for it. While the API has writes in flight
// the controllers yield: entries of minPodsPerEntry pods (cut where a
// job's pods end), so registers get in between them; when it has none,
// entries of maxPodsPerEntry, so catching up costs few log writes. Under a
// burst of registers the API answers faster and the pods follow shortly
// after it (the register benchmark reports how far behind and for how
// long, docs/benchmarks.md); a job of 10,000 pods is 10 entries.
const (
	minPodsPerEntry = 30
	maxPodsPerEntry = 1000
)

// After a pass that covered several jobs the loop waits before the next,
// so that writes landing meanwhile are handled together: under a burst of
// registers each pass (and its Raft writes) covers many jobs. The wait is
// pacingFactor times what the pass took, at most controllerPacing: the
// controllers spend about a tenth of the time passing, and a pass of a
// few jobs (a `job run` landing beside another job's pod reports) costs
// a millisecond and waits about ten, where a fixed 50 ms wait doubled the
// time a back-to-back submission took to reach its node. A pass of one
// job (or none) is not paced.
const (
	controllerPacing = 50 * time.Millisecond
	pacingFactor     = 10
)

// kickControllers wakes the leader's controller loop at once.
func (s *Server) kickControllers() {
	select {
	case s.controllerKick <- struct{}{}:
	default:
	}
}

// controllerLoop runs on the leader. It is level-triggered: every pass
// recomputes what should be from the state store alone (jobs, replica
// sets, nodes, pods), never from remembered events, so a restart or a
// failover loses nothing. A pass runs when a watched table changes, when
// kicked, or every ReconcileInterval.
func (s *Server) controllerLoop(stopCh chan struct{}) {
	var last passMark
	var lastPass time.Time
	var lastJobs int
	var passTook time.Duration
	for {
		st := s.State()
		ws := memdb.NewWatchSet()
		for _, table := range []string{state.TableJobs, state.TableReplicaSets, state.TableDeployments, state.TablePods, state.TableNodes} {
			watchTable(st, ws, table)
		}
		ws.Add(st.AbandonCh())
		passStart := time.Now()
		scope, mark, err := s.passScope(st, last)
		if err == nil {
			lastJobs = len(scope.jobs)
			if scope.full {
				lastJobs = 2 // a full pass walks every job: pace after it
			}
			mark.freedRoom, err = s.reconcile(st, scope)
			if err != nil {
				// The next pass sees what this one took, and the room
				// that stops it wrote before failing may have freed.
				s.dirty.restore(scope.jobs, scope.retryPending || mark.freedRoom)
			}
		}
		if err != nil {
			s.logger.Error("controllers: reconcile failed", "error", err)
		} else {
			last = mark
		}
		lastPass = time.Now()
		passTook = lastPass.Sub(passStart)
		timeout := time.NewTimer(s.config.ReconcileInterval)
		watchCtx, cancelWatch := context.WithCancel(context.Background())
		changed := ws.WatchCh(watchCtx)
		select {
		case <-changed:
		case <-s.controllerKick:
		case <-timeout.C:
		case <-stopCh:
		}
		cancelWatch()
		timeout.Stop()
		select {
		case <-stopCh:
			return
		default:
		}
		// Let a burst of writes land before the next pass.
		if wait := min(controllerPacing, pacingFactor*passTook) - time.Since(lastPass); wait > 0 && lastJobs > 1 {
			select {
			case <-time.After(wait):
			case <-stopCh:
				return
			}
		}
	}
}

func watchTable(st *state.StateStore, ws memdb.WatchSet, table string) {
	if ch := st.TableWatch(table); ch != nil {
		ws.Add(ch)
	}
}

// passMark is where the previous controller pass left off.
type passMark struct {
	store      *state.StateStore // a restored snapshot is a new store
	index      uint64            // latest Raft index the pass read
	nodesIndex uint64
	full       time.Time
	// freedRoom: the pass stopped pods or declared them lost, so pods
	// waiting for room may fit on the next one.
	freedRoom bool
}

// passScope decides what a pass looks at. A full pass recomputes every
// job and pod (level-triggered: nothing depends on having seen an event);
// it runs at leadership start, every ReconcileInterval, whenever nodes
// change and after a snapshot restore. In between, a pass looks only at
// the jobs the leader's endpoints changed (s.dirty) and the jobs whose pods
// clients reported on since the last pass, so a burst of registers does
// not make each pass walk them all.
func (s *Server) passScope(st *state.StateStore, last passMark) (*scope, passMark, error) {
	mark := passMark{store: st, index: st.LatestIndex(), nodesIndex: st.Index(state.TableNodes), full: last.full}
	jobs, roomChanged := s.dirty.take()
	sc := &scope{jobs: jobs, since: last.index}
	reported, err := st.PodsReportedSince(last.index)
	if err != nil {
		s.dirty.restore(jobs, roomChanged)
		return nil, last, err
	}
	first := last.index == 0 || last.store != st
	// Room may have changed: nodes changed, or a pod ended or was stopped.
	// Pods waiting for room are placed again only then.
	sc.retryPending = first || mark.nodesIndex != last.nodesIndex || roomChanged || last.freedRoom
	for _, p := range reported {
		if p.Terminal() {
			sc.retryPending = true
		}
		sc.jobs[key(p.Namespace, p.JobID)] = true
	}
	if sc.retryPending {
		s.roomIndex = mark.index
	}
	if first || mark.nodesIndex != last.nodesIndex || time.Since(last.full) >= s.config.ReconcileInterval {
		sc.full, mark.full = true, time.Now()
	}
	return sc, mark, nil
}

// reconcile is one controller pass: lost and drained pods, then each
// owner's desired count, then placement of what is unplaced, then garbage
// collection. It reports whether it stopped pods or declared them lost.
func (s *Server) reconcile(st *state.StateStore, sc *scope) (freedRoom bool, err error) {
	start := time.Now()
	now := start.UnixNano()
	defer func() {
		kind := "incremental"
		if sc.full {
			kind = "full"
		}
		controllerPassDuration.WithLabelValues(kind).Observe(time.Since(start).Seconds())
	}()
	view, err := loadView(st, sc)
	if err != nil {
		return false, err
	}
	view.backoff = replacementBackoff{base: s.config.RescheduleDelay, max: s.config.RescheduleMaxDelay, window: rescheduleWindow}
	view.podIDs = s.podIDs
	changes := newPodChanges(now)
	if sc.full {
		view.markLostAndDrained(changes)
	}
	view.reconcileOwners(changes)
	s.setDrainWaits(sc, view.finishDrains(changes, s.drainedCheck(st, view.nodes, start)))
	s.planMu.Lock()
	s.placeNew(changes)
	written := changes.list()
	for _, p := range written {
		if p.DesiredStatus == structs.PodDesiredStop || p.Terminal() {
			freedRoom = true
		}
	}
	// Reported even when a later chunk fails: earlier ones may be written.
	err = s.writePods(written)
	s.planMu.Unlock()
	if err != nil {
		return freedRoom, err
	}
	if err := s.applyRollouts(view.rollouts); err != nil {
		return freedRoom, err
	}
	if err := s.scheduleUnplaced(now, sc); err != nil {
		return freedRoom, err
	}
	if !sc.full {
		return freedRoom, nil
	}
	return freedRoom, s.collectGarbage(view, s.gcPolicy(false), now)
}

// writePods proposes server-side pod changes in chunks. Templates are left
// out of the log: the FSM points each pod at its job version's group, so
// a 10,000-pod job does not carry its group 10,000 times.
func (s *Server) writePods(pods []*structs.Pod) error {
	slim := make([]*structs.Pod, len(pods))
	for i, p := range pods {
		cp := *p
		cp.Template = nil
		slim[i] = &cp
	}
	for start := 0; start < len(slim); {
		least := maxPodsPerEntry
		if s.apiWrites.Load() > 0 {
			least = minPodsPerEntry
		}
		end := entryEnd(slim, start, least)
		entry := slim[start:end]
		if _, _, err := s.raftApply(structs.PodsUpsertRequestType, &structs.PodsUpsertRequest{Pods: entry}); err != nil {
			return err
		}
		for _, p := range entry {
			if p.CreateIndex == 0 { // not stored before: the FSM sets it
				podsCreated.Inc()
			}
		}
		start = end
	}
	return nil
}

// entryEnd is where the log entry of pods that starts at start ends: where
// a job's pods end once it holds least pods, or at maxPodsPerEntry.
func entryEnd(pods []*structs.Pod, start, least int) int {
	for i := start + 1; i < len(pods); i++ {
		n := i - start
		jobEnds := pods[i].Namespace != pods[i-1].Namespace || pods[i].JobID != pods[i-1].JobID
		if n >= maxPodsPerEntry || (n >= least && jobEnds) {
			return i
		}
	}
	return len(pods)
}

// apiApply proposes a write of the API (a register, a stop) that changes a
// job. While it is in flight the controllers yield to it (see
// minPodsPerEntry); once it is done, succeeded or not, they look at the
// job on their next pass, and are woken for it: the loop may have taken
// the dirty set after the write committed but before this mark.
func (s *Server) apiApply(t structs.MessageType, msg any, namespace, jobID string) (any, uint64, error) {
	s.apiWrites.Add(1)
	resp, index, err := s.raftApply(t, msg)
	s.apiWrites.Add(-1)
	s.dirty.markJob(namespace, jobID)
	s.kickControllers()
	return resp, index, err
}
