package structs

import "strings"

// Defaults that Canonicalize fills in. A job decoded from HCL and the same
// job submitted as JSON end up equal once canonicalized.
const (
	// DefaultPriority is the priority of a job that sets none.
	DefaultPriority = 50
	// DefaultCPU and DefaultMemoryMB are a task's resources when its
	// resources block is absent.
	DefaultCPU      = 100
	DefaultMemoryMB = 300
	// DefaultCheckInterval and DefaultCheckTimeout apply to service checks.
	DefaultCheckInterval = "10s"
	DefaultCheckTimeout  = "2s"
	// DefaultConstraintOperator is the operator of a constraint naming none.
	DefaultConstraintOperator = "="
	// VolumeTypeEphemeral lives as long as the pod; VolumeTypeHost is a
	// directory of the node (Source).
	VolumeTypeEphemeral = "ephemeral"
	VolumeTypeHost      = "host"
	// Restart modes: after the attempts of an interval are used up, "delay"
	// waits for the next interval and "fail" fails the pod.
	RestartModeDelay = "delay"
	RestartModeFail  = "fail"
	// DefaultScaleUpCooldown and DefaultScaleDownCooldown are the
	// autoscaler's cooldowns (scale down slowly, as Kubernetes' HPA does).
	DefaultScaleUpCooldown   = "30s"
	DefaultScaleDownCooldown = "5m"
)

// DefaultRestartPolicy returns the restart policy of a group of the given job
// type that has no restart block: service, system and function groups retry
// twice in 30 minutes, batch groups three times a day; both wait 15s between
// tries and then fail the pod.
func DefaultRestartPolicy(jobType string) *RestartPolicy {
	if jobType == JobTypeBatch {
		return &RestartPolicy{Attempts: 3, Interval: "24h", Delay: "15s", Mode: RestartModeFail}
	}
	return &RestartPolicy{Attempts: 2, Interval: "30m", Delay: "15s", Mode: RestartModeFail}
}

// DefaultUpdateStrategy returns the rolling update of a service group that
// has no update block, Kubernetes' defaults: a quarter of the count above
// it and a quarter below it at a time (max_surge and max_unavailable
// 25%), a pod counts once it has passed its checks for 10s, each pod has
// 5m to get there and the whole rollout 10m, no automatic rollback.
func DefaultUpdateStrategy() *UpdateStrategy {
	return &UpdateStrategy{
		MaxSurgePercent:       25,
		MaxUnavailablePercent: 25,
		MinHealthyTime:        "10s",
		HealthyDeadline:       "5m",
		ProgressDeadline:      DefaultProgressDeadline,
	}
}

// DefaultProgressDeadline bounds a rollout whose update block sets none.
const DefaultProgressDeadline = "10m"

// DefaultResources returns a task's resources when its block is absent.
func DefaultResources() *Resources {
	return &Resources{CPU: DefaultCPU, MemoryMB: DefaultMemoryMB}
}

// Canonicalize fills the defaults of every field a user may leave out, so a
// job submitted as JSON gets the same values as one decoded from HCL. It
// drops null entries of lists. It does not change a group's Count: the HCL
// decoder sets 1 when count is absent, a JSON job must set it. Canonicalize
// is idempotent.
func (j *Job) Canonicalize() {
	if j == nil {
		return
	}
	j.Namespace = NamespaceOrDefault(j.Namespace)
	if j.ID == "" {
		j.ID = j.Name
	}
	if j.Type == "" {
		j.Type = JobTypeService
	}
	if j.Priority == 0 {
		j.Priority = DefaultPriority
	}
	j.Groups = compact(j.Groups)
	for _, g := range j.Groups {
		g.canonicalize(j)
	}
}

func (g *TaskGroup) canonicalize(j *Job) {
	if g.Restart == nil {
		g.Restart = DefaultRestartPolicy(j.Type)
	} else {
		def := DefaultRestartPolicy(j.Type)
		setDefault(&g.Restart.Interval, def.Interval)
		setDefault(&g.Restart.Delay, def.Delay)
		setDefault(&g.Restart.Mode, def.Mode)
	}
	if j.Type == JobTypeService && g.Update == nil {
		g.Update = DefaultUpdateStrategy()
	}
	if g.Update != nil {
		def := DefaultUpdateStrategy()
		setDefault(&g.Update.MinHealthyTime, def.MinHealthyTime)
		setDefault(&g.Update.HealthyDeadline, def.HealthyDeadline)
		setDefault(&g.Update.ProgressDeadline, def.ProgressDeadline)
	}
	if g.Scaling != nil {
		setDefault(&g.Scaling.ScaleUpCooldown, DefaultScaleUpCooldown)
		setDefault(&g.Scaling.ScaleDownCooldown, DefaultScaleDownCooldown)
	}
	g.Constraints = compact(g.Constraints)
	for _, c := range g.Constraints {
		setDefault(&c.Operator, DefaultConstraintOperator)
	}
	g.Volumes = compact(g.Volumes)
	for _, v := range g.Volumes {
		setDefault(&v.Type, VolumeTypeEphemeral)
	}
	if g.Network != nil {
		g.Network.Ports = compact(g.Network.Ports)
	}
	g.Services = compact(g.Services)
	for _, s := range g.Services {
		s.canonicalize(j, g)
	}
	if g.Ingress != nil {
		// All trailing dots go, not one: canonical forms must not change
		// when canonicalized again (FuzzValidate found "a.." → "a.").
		g.Ingress.Host = strings.ToLower(strings.TrimRight(g.Ingress.Host, "."))
		g.Ingress.Paths = compact(g.Ingress.Paths)
	}
	g.Tasks = compact(g.Tasks)
	for _, t := range g.Tasks {
		if t.Resources == nil {
			t.Resources = DefaultResources()
		}
		t.VolumeMounts = compact(t.VolumeMounts)
	}
}

// canonicalize names an unnamed service "<job>-<group>", as Nomad does.
func (s *ServiceSpec) canonicalize(j *Job, g *TaskGroup) {
	if s.Name == "" && j.Name != "" && g.Name != "" {
		s.Name = j.Name + "-" + g.Name
	}
	setDefault(&s.Type, ServiceTypeClusterIP)
	s.Checks = compact(s.Checks)
	for _, c := range s.Checks {
		setDefault(&c.Interval, DefaultCheckInterval)
		setDefault(&c.Timeout, DefaultCheckTimeout)
	}
}

func setDefault(s *string, def string) {
	if *s == "" {
		*s = def
	}
}

// compact drops nil entries; it returns s itself when there are none, so a
// canonical job keeps its slices as they were.
func compact[T any](s []*T) []*T {
	for i, e := range s {
		if e == nil {
			out := append([]*T(nil), s[:i]...)
			for _, e := range s[i+1:] {
				if e != nil {
					out = append(out, e)
				}
			}
			return out
		}
	}
	return s
}
