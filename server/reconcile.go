package server

import (
	"fmt"
	"sort"
	"strings"

	"github.com/mk-orchestrator/mk/server/scheduler"
	"github.com/mk-orchestrator/mk/server/state"
	"github.com/mk-orchestrator/mk/structs"
)

// view is what one controller pass reads from a store.
type view struct {
	nodes map[string]*structs.Node
	jobs  []*structs.Job
	pods  []*structs.Pod
	// podsByOwner indexes pods by namespace/owner ID.
	podsByOwner map[string][]*structs.Pod
	objects     map[string]*structs.JobObjects // deployments and replica sets, by namespace/job ID
	jobByKey    map[string]*structs.Job
	// backoff spaces out the replacements of pods that keep failing.
	backoff replacementBackoff
	// podIDs names new pods.
	podIDs *podIDs
	// wholeRollout plans a rollout to its end in one pass, as if every new
	// pod became healthy at once: what a job plan shows.
	wholeRollout bool
	// rollouts are the deployments' plans of this pass, for the server
	// to write their status and act on failures.
	rollouts []*rolloutOutcome
}

// rolloutOutcome is one deployment's plan of a pass.
type rolloutOutcome struct {
	deployment *structs.Deployment
	plan       *rolloutPlan
}

func key(ns, id string) string { return ns + "/" + id }

// splitKey is the inverse of key: namespaces hold no "/".
func splitKey(k string) (ns, id string) {
	ns, id, _ = strings.Cut(k, "/")
	return ns, id
}

// scope is what one controller pass looks at.
type scope struct {
	full bool
	// jobs are the namespace/ID keys of the jobs to reconcile when not full.
	jobs map[string]bool
	// retryPending: place again pods that could not be placed before.
	retryPending bool
	// since is the index the previous pass read (incremental passes).
	since uint64
}

// loadView reads what a pass needs: every node, and the jobs in scope
// (all of them on a full pass) with their objects and pods.
func loadView(st *state.StateStore, sc *scope) (*view, error) {
	v := &view{nodes: map[string]*structs.Node{}, podsByOwner: map[string][]*structs.Pod{},
		objects: map[string]*structs.JobObjects{}, jobByKey: map[string]*structs.Job{}}
	nodes, err := st.Nodes(nil)
	if err != nil {
		return nil, err
	}
	for _, n := range nodes {
		v.nodes[n.ID] = n
	}
	if sc.full {
		if v.jobs, err = st.Jobs(nil, state.AllNamespaces); err != nil {
			return nil, err
		}
		if v.pods, err = st.Pods(nil, state.AllNamespaces); err != nil {
			return nil, err
		}
	} else if err := v.loadScoped(st, sc); err != nil {
		return nil, err
	}
	for _, j := range v.jobs {
		v.jobByKey[key(j.Namespace, j.ID)] = j
		objs, err := st.WorkloadsByJob(j.Namespace, j.ID)
		if err != nil {
			return nil, err
		}
		v.objects[key(j.Namespace, j.ID)] = objs
	}
	v.indexPods()
	return v, nil
}

// loadScoped reads the jobs of an incremental pass and their pods. A pod
// whose job is gone (purged) is kept in the view so it gets stopped.
func (v *view) loadScoped(st *state.StateStore, sc *scope) error {
	for k := range sc.jobs {
		ns, id := splitKey(k)
		j, err := st.JobByID(nil, ns, id)
		if err != nil {
			return err
		}
		if j != nil {
			v.jobs = append(v.jobs, j)
		}
		pods, err := st.PodsByJob(nil, ns, id)
		if err != nil {
			return err
		}
		v.pods = append(v.pods, pods...)
	}
	return nil
}

func (v *view) indexPods() {
	for _, p := range v.pods {
		k := key(p.Namespace, p.OwnerID)
		v.podsByOwner[k] = append(v.podsByOwner[k], p)
	}
}

// podChanges collects the pods a pass creates or changes, each once.
type podChanges struct {
	now     int64
	changed map[string]*structs.Pod
	order   []string
}

func newPodChanges(now int64) *podChanges {
	return &podChanges{now: now, changed: map[string]*structs.Pod{}}
}

// edit returns a copy of p to change, the same copy on every call.
func (c *podChanges) edit(p *structs.Pod) *structs.Pod {
	k := key(p.Namespace, p.ID)
	if cp, ok := c.changed[k]; ok {
		return cp
	}
	cp := structs.Copy(p)
	cp.ModifyTime = c.now
	c.changed[k] = cp
	c.order = append(c.order, k)
	return cp
}

func (c *podChanges) add(p *structs.Pod) {
	k := key(p.Namespace, p.ID)
	c.changed[k] = p
	c.order = append(c.order, k)
}

func (c *podChanges) stop(p *structs.Pod, reason string) {
	if p.DesiredStatus == structs.PodDesiredStop {
		return
	}
	cp := c.edit(p)
	cp.DesiredStatus, cp.DesiredReason = structs.PodDesiredStop, reason
	if cp.NodeID == "" {
		// No client ever had it: it ends here.
		cp.Phase, cp.PendingReason = structs.PodPhaseFailed, ""
	}
}

// drain takes a serving pod out of its services before it is stopped
// (finishDrains stops it once every node's proxy dropped it); a pod that
// serves nothing yet is stopped at once.
func (c *podChanges) drain(p *structs.Pod, reason string) {
	if p.Draining || p.DesiredStatus == structs.PodDesiredStop {
		return
	}
	if p.NodeID == "" || p.Phase != structs.PodPhaseRunning {
		c.stop(p, reason)
		return
	}
	cp := c.edit(p)
	cp.Draining, cp.DrainStartTime, cp.DesiredReason = true, c.now, reason
}

func (c *podChanges) list() []*structs.Pod {
	out := make([]*structs.Pod, 0, len(c.order))
	for _, k := range c.order {
		out = append(out, c.changed[k])
	}
	return out
}

// live reports whether a pod counts toward its owner's count: wanted
// running and not finished.
func live(p *structs.Pod) bool {
	return p.DesiredStatus == structs.PodDesiredRun && !p.Terminal()
}

// markLostAndDrained: pods on down nodes are lost (their owners replace
// them); pods on draining nodes are stopped and replaced elsewhere one
// owner's pod at a time: a drain never takes a group below its count minus
// one while the replacement starts.
func (v *view) markLostAndDrained(c *podChanges) {
	migrating := map[string]bool{} // owners with a pod not yet running
	for _, p := range v.pods {
		if live(p) && p.Phase != structs.PodPhaseRunning {
			migrating[key(p.Namespace, p.OwnerID)] = true
		}
	}
	for _, p := range v.pods {
		if p.NodeID == "" || !live(p) {
			continue
		}
		node := v.nodes[p.NodeID]
		switch {
		case node == nil || node.Status == structs.NodeStatusDown || node.Status == structs.NodeStatusLeft:
			cp := c.edit(p)
			cp.Phase, cp.DesiredStatus, cp.DesiredReason = structs.PodPhaseLost, structs.PodDesiredStop, "node down"
		case node.Drain:
			owner := key(p.Namespace, p.OwnerID)
			if !migrating[owner] {
				c.stop(p, "node drained")
				migrating[owner] = true
			}
		}
	}
}

// reconcileOwners brings every owner (replica set, batch or system group)
// to its desired pods and stops the pods of stopped or purged jobs.
func (v *view) reconcileOwners(c *podChanges) {
	for _, p := range v.pods {
		// Every pod of a stopped job is stopped, finished ones too: the
		// collector takes them once they are terminal.
		job := v.jobByKey[key(p.Namespace, p.JobID)]
		if job == nil || job.Stop {
			c.stop(p, reasonJobStopped)
		}
	}
	for _, job := range v.jobs {
		if job.Stop {
			continue
		}
		switch job.Type {
		case structs.JobTypeService:
			v.reconcileService(c, job)
		case structs.JobTypeBatch:
			v.reconcileBatch(c, job)
		case structs.JobTypeSystem:
			v.reconcileSystem(c, job)
		}
	}
}

// reconcileService rolls each deployment of a service job toward its
// current replica set (planRollout) and takes every pod of a replica set
// no deployment wants out of service.
func (v *view) reconcileService(c *podChanges, job *structs.Job) {
	objs := v.objects[key(job.Namespace, job.ID)]
	deployments := map[string]*structs.Deployment{}
	for _, d := range objs.Deployments {
		deployments[d.ID] = d
	}
	byDeployment := map[string][]*structs.ReplicaSet{}
	for _, rs := range objs.ReplicaSets {
		if deployments[rs.DeploymentID] == nil {
			for _, p := range v.podsByOwner[key(job.Namespace, rs.ID)] {
				c.drain(p, reasonScaledDown) // its group is gone from the job
			}
			continue
		}
		byDeployment[rs.DeploymentID] = append(byDeployment[rs.DeploymentID], rs)
	}
	for _, d := range objs.Deployments {
		v.reconcileDeployment(c, job, d, byDeployment[d.ID])
	}
}

// reconcileDeployment applies one pass of a deployment's rollout: the
// target replica set at its planned count, old pods drained as the plan
// allows, finished pods of old replica sets stopped.
func (v *view) reconcileDeployment(c *podChanges, job *structs.Job, d *structs.Deployment, sets []*structs.ReplicaSet) {
	in := &rolloutInput{d: d, strategy: d.Strategy, now: c.now, setVersions: map[string]uint64{}}
	var target *structs.ReplicaSet
	for _, rs := range sets {
		in.setVersions[rs.ID] = rs.JobVersion
		pods := v.podsByOwner[key(job.Namespace, rs.ID)]
		if rs.ID == d.ReplicaSetID {
			target, in.targetPods = rs, pods
		}
		for _, p := range pods {
			switch {
			case !live(p):
				if rs.ID != d.ReplicaSetID {
					c.stop(p, reasonScaledDown) // nothing replaces an old version's finished pods
				}
			case p.Draining:
				in.draining = append(in.draining, p)
			case rs.ID == d.ReplicaSetID:
				in.newPods = append(in.newPods, p)
			default:
				in.oldPods = append(in.oldPods, p)
			}
		}
	}
	plan := planRollout(in)
	if v.wholeRollout {
		plan = wholeRolloutPlan(in)
	}
	for _, p := range plan.drain {
		c.drain(p, reasonRolledOut)
	}
	v.rollouts = append(v.rollouts, &rolloutOutcome{deployment: d, plan: plan})
	if target == nil {
		return
	}
	toStart, toStop := scheduler.ReconcileCount(plan.newCount, in.newPods)
	for _, p := range toStop {
		c.drain(p, reasonScaledDown)
	}
	if v.backoff.wait(in.targetPods, c.now) > 0 {
		toStart = 0 // a later pass starts them
	}
	v.startPods(c, job, target.Template, structs.OwnerReplicaSet, target.ID, in.newPods, toStart, "")
}

// maxBatchReschedules is how many failed pods per count a batch group may
// have before it is no longer replaced.
const maxBatchReschedules = 3

// reconcileBatch runs each batch group to completion: pods that
// succeeded count as done and are never run again.
func (v *view) reconcileBatch(c *podChanges, job *structs.Job) {
	for _, g := range job.Groups {
		owner := job.ID + "-" + g.Name
		var succeeded, failed int
		for _, p := range v.podsByOwner[key(job.Namespace, owner)] {
			switch p.Phase {
			case structs.PodPhaseSucceeded:
				succeeded++
			case structs.PodPhaseFailed:
				failed++
			}
		}
		owned := v.livePods(job.Namespace, owner)
		desired := max(g.Count-succeeded, 0)
		if failed >= g.Count*maxBatchReschedules {
			// A batch group that keeps failing is given up on, not run
			// forever; lost pods (node failures) do not count.
			desired = min(desired, len(owned))
		}
		toStart, toStop := scheduler.ReconcileCount(desired, owned)
		for _, p := range toStop {
			c.stop(p, "batch group complete")
		}
		if v.backoff.wait(v.podsByOwner[key(job.Namespace, owner)], c.now) > 0 {
			toStart = 0
		}
		v.startPods(c, job, g, structs.OwnerJob, owner, owned, toStart, "")
	}
}

// reconcileSystem keeps one pod of each system group for every node that
// passes the group's node checks (ready and eligible, datacenter, drivers,
// constraints), including nodes that join later. Each pod is pinned to its
// node and placed by the scheduler like any other, so it runs only if it
// fits beside what the node already runs; otherwise it waits there with the
// reason. A waiting pod whose node no longer qualifies is dropped.
func (v *view) reconcileSystem(c *podChanges, job *structs.Job) {
	nodeIDs := make([]string, 0, len(v.nodes))
	for id := range v.nodes {
		nodeIDs = append(nodeIDs, id)
	}
	sort.Strings(nodeIDs)
	for _, g := range job.Groups {
		owner := job.ID + "-" + g.Name
		owned := v.livePods(job.Namespace, owner)
		feasible := map[string]bool{}
		for _, id := range nodeIDs {
			feasible[id], _ = scheduler.NodeFeasible(job, g, v.nodes[id])
		}
		onNode := map[string]bool{}
		for _, p := range owned {
			if p.NodeID == "" && p.PinnedNodeID != "" && !feasible[p.PinnedNodeID] {
				c.stop(p, "node no longer eligible for the system job")
				continue
			}
			onNode[p.NodeID] = true
			onNode[p.PinnedNodeID] = true
		}
		var podless []string // nodes whose pod this pass makes
		for _, id := range nodeIDs {
			if feasible[id] && !onNode[id] {
				podless = append(podless, id)
			}
		}
		v.rollSystemGroup(c, g, owned, len(podless))
		for _, id := range podless {
			v.startPods(c, job, g, structs.OwnerJob, owner, owned, 1, id)
			owned = append(owned, c.changed[c.order[len(c.order)-1]])
		}
	}
}

func (v *view) livePods(ns, owner string) []*structs.Pod {
	var out []*structs.Pod
	for _, p := range v.podsByOwner[key(ns, owner)] {
		if live(p) {
			out = append(out, p)
		}
	}
	return out
}

// startPods adds n new pending pods of a group for the scheduler to place;
// pinned restricts them to one node (system jobs).
func (v *view) startPods(c *podChanges, job *structs.Job, g *structs.TaskGroup, ownerKind, ownerID string, owned []*structs.Pod, n int, pinned string) {
	used := map[string]bool{}
	for _, p := range owned {
		used[p.Name] = true
	}
	next := 0
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("%s.%s[%d]", job.ID, g.Name, next)
		for used[name] {
			next++
			name = fmt.Sprintf("%s.%s[%d]", job.ID, g.Name, next)
		}
		used[name] = true
		id := v.podIDs.New()
		v.markReplaced(c, job.Namespace, ownerID, pinned, id)
		c.add(&structs.Pod{
			ObjectMeta: structs.ObjectMeta{ID: id, Name: name, Namespace: job.Namespace,
				Labels: map[string]string{structs.LabelJob: job.ID, structs.LabelGroup: g.Name, structs.LabelJobType: job.Type}},
			JobID: job.ID, Group: g.Name, JobVersion: job.Version,
			OwnerKind: ownerKind, OwnerID: ownerID, PinnedNodeID: pinned,
			Template: g, Resources: structs.GroupResources(g),
			DesiredStatus: structs.PodDesiredRun, Phase: structs.PodPhasePending,
			CreateTime: c.now, ModifyTime: c.now,
		})
	}
}
