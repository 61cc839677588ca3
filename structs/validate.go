package structs

import (
	"fmt"
	"regexp"
	"strings"
	"time"
)

// Drivers whose configuration Validate knows. Other driver names are allowed
// (plugins); their config is not checked.
const (
	DriverDocker = "docker"
	DriverExec   = "exec"
	// DriverRawExec is exec without isolation, offered only by clients
	// that enable it.
	DriverRawExec  = "raw_exec"
	DriverGPUSlurm = "gpu-slurm"
)

// ConstraintOperators are the operators a constraint may use.
var ConstraintOperators = []string{
	"=", "!=", ">", ">=", "<", "<=", "regexp", "set_contains",
	"set_contains_any", "version", "is_set", "is_not_set", "distinct_hosts",
}

// isDNSLabel reports whether s matches ^[a-z0-9]([a-z0-9-]*[a-z0-9])?$
// (a loop: the regexp showed in the register benchmark's profile).
func isDNSLabel(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		alnum := c >= 'a' && c <= 'z' || c >= '0' && c <= '9'
		if !alnum && (c != '-' || i == 0 || i == len(s)-1) {
			return false
		}
	}
	return s != ""
}

// ParseDuration parses a duration field of a job: "" is zero, anything else
// must be a Go duration ("30s", "1m30s") that is not negative.
func ParseDuration(s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("must be a duration such as \"30s\", got %q", s)
	}
	if d < 0 {
		return 0, fmt.Errorf("must not be negative, got %q", s)
	}
	return d, nil
}

// CheckDNSLabel returns "" when s is a DNS label (lowercase letters, digits
// and '-', starting and ending with a letter or digit, at most 63
// characters), else what is wrong with it.
func CheckDNSLabel(s string) string {
	switch {
	case s == "":
		return "is required"
	case len(s) > 63:
		return fmt.Sprintf("must be at most 63 characters, got %d", len(s))
	case !isDNSLabel(s):
		return fmt.Sprintf("must be lowercase letters, digits and '-', starting and ending with a letter or digit, got %q", s)
	}
	return ""
}

// validator collects every problem of a job; path is the block being checked.
type validator struct {
	errs ValidationErrors
	path string
}

func (v *validator) add(field, format string, args ...any) {
	v.errs = append(v.errs, &ValidationError{Path: v.path, Field: field, Msg: fmt.Sprintf(format, args...)})
}

// at returns a validator for a nested block that shares the error list.
func (v *validator) at(elem string) *validator {
	return &validator{path: v.path + " " + elem}
}

func (v *validator) merge(o *validator) { v.errs = append(v.errs, o.errs...) }

func (v *validator) dnsLabel(field, s string) {
	if msg := CheckDNSLabel(s); msg != "" {
		v.add(field, "%s", msg)
	}
}

func (v *validator) duration(field, s string) {
	if _, err := ParseDuration(s); err != nil {
		v.add(field, "%s", err)
	}
}

// positiveDuration checks a duration that must be set and above zero.
func (v *validator) positiveDuration(field, s string) {
	d, err := ParseDuration(s)
	switch {
	case err != nil:
		v.add(field, "%s", err)
	case d == 0:
		v.add(field, "must be > 0")
	}
}

func (v *validator) oneOf(field, s string, allowed ...string) {
	for _, a := range allowed {
		if s == a {
			return
		}
	}
	v.add(field, "must be one of %s; got %q", strings.Join(allowed, ", "), s)
}

func (v *validator) between(field string, n, lo, hi int) {
	if n < lo || n > hi {
		v.add(field, "must be between %d and %d, got %d", lo, hi, n)
	}
}

// dup reports the second and later uses of a name among siblings.
func (v *validator) dup(seen map[string]bool, kind, name string) {
	if seen[name] {
		v.add(fmt.Sprintf("%s %q", kind, name), "is defined more than once")
	}
	seen[name] = true
}

// Validate checks a canonicalized job and returns every problem as
// ValidationErrors, or nil.
func (j *Job) Validate() error {
	if j == nil {
		return ValidationErrors{{Path: "job", Msg: "must not be null"}}
	}
	v := &validator{path: fmt.Sprintf("job %q", j.Name)}
	v.dnsLabel("name", j.Name)
	if j.Namespace != "" {
		v.dnsLabel("namespace", j.Namespace)
	}
	v.oneOf("type", j.Type, JobTypeService, JobTypeBatch, JobTypeSystem, JobTypeFunction)
	if j.Priority != 0 {
		v.between("priority", j.Priority, 1, 100)
	}
	for i, dc := range j.Datacenters {
		if dc == "" {
			v.add(fmt.Sprintf("datacenters[%d]", i), "must not be empty")
		}
	}
	if len(j.Groups) == 0 {
		v.add("", "must have at least one group")
	}
	seen := map[string]bool{}
	for i, g := range j.Groups {
		if g == nil {
			v.add(fmt.Sprintf("group[%d]", i), "must not be null")
			continue
		}
		v.dup(seen, "group", g.Name)
		v.merge(g.validate(v.at(fmt.Sprintf("group %q", g.Name)), j))
	}
	return v.errs.ErrOrNil()
}

func (g *TaskGroup) validate(v *validator, j *Job) *validator {
	v.dnsLabel("name", g.Name)
	if g.Count < 0 {
		v.add("count", "must be >= 0")
	}
	g.Update.validate(v)
	v.duration("shutdown_delay", g.ShutdownDelay)
	g.Scaling.validate(v, g.Count, j.Type)
	for i, c := range g.Constraints {
		c.validate(v, fmt.Sprintf("constraint[%d]", i))
	}
	volumes := g.validateVolumes(v)
	g.Network.validate(v)
	seen := map[string]bool{}
	for i, s := range g.Services {
		if s == nil {
			v.add(fmt.Sprintf("service[%d]", i), "must not be null")
			continue
		}
		v.dup(seen, "service", s.Name)
		v.merge(s.validate(v.at(fmt.Sprintf("service %q", s.Name)), g))
	}
	g.Ingress.validate(v, j)
	g.Restart.validate(v)
	if len(g.Tasks) == 0 {
		v.add("", "must have at least one task")
	}
	seen = map[string]bool{}
	for i, t := range g.Tasks {
		if t == nil {
			v.add(fmt.Sprintf("task[%d]", i), "must not be null")
			continue
		}
		v.dup(seen, "task", t.Name)
		v.merge(t.validate(v.at(fmt.Sprintf("task %q", t.Name)), volumes, g.Network))
	}
	return v
}

func (u *UpdateStrategy) validate(v *validator) {
	if u == nil {
		return
	}
	if u.MaxSurge < 0 {
		v.add("update.max_surge", "must be >= 0")
	}
	if u.MaxUnavailable < 0 {
		v.add("update.max_unavailable", "must be >= 0")
	}
	if u.MaxSurgePercent < 0 || u.MaxSurgePercent > 100 {
		v.add("update.max_surge", "must be a percentage between 0%% and 100%%")
	}
	if u.MaxUnavailablePercent < 0 || u.MaxUnavailablePercent > 100 {
		v.add("update.max_unavailable", "must be a percentage between 0%% and 100%%")
	}
	if u.MaxSurge == 0 && u.MaxUnavailable == 0 && u.MaxSurgePercent == 0 && u.MaxUnavailablePercent == 0 {
		v.add("update.max_unavailable", "must be > 0 when update.max_surge is 0")
	}
	if u.Canary < 0 {
		v.add("update.canary", "must be >= 0")
	}
	if u.AutoPromote && u.Canary == 0 {
		v.add("update.auto_promote", "needs update.canary > 0")
	}
	v.duration("update.min_healthy_time", u.MinHealthyTime)
	v.duration("update.healthy_deadline", u.HealthyDeadline)
	v.duration("update.progress_deadline", u.ProgressDeadline)
}

func (s *ScalingPolicy) validate(v *validator, count int, jobType string) {
	if s == nil {
		return
	}
	if jobType == JobTypeBatch || jobType == JobTypeSystem {
		v.add("scaling", "is only for groups of service jobs, not %s", jobType)
	}
	if s.CPUPercent == 0 && s.MemoryPercent == 0 {
		v.add("scaling", "needs a target: cpu_percent, memory_percent or both")
	}
	if s.Min < 0 {
		v.add("scaling.min", "must be >= 0")
	}
	if s.Max < 1 {
		v.add("scaling.max", "must be >= 1")
	}
	if s.Max < s.Min {
		v.add("scaling.max", "must be >= scaling.min (%d)", s.Min)
	} else if count < s.Min || count > s.Max {
		v.add("count", "must be between scaling.min (%d) and scaling.max (%d), got %d", s.Min, s.Max, count)
	}
	if s.CPUPercent != 0 {
		v.between("scaling.cpu_percent", s.CPUPercent, 1, 100)
	}
	if s.MemoryPercent != 0 {
		v.between("scaling.memory_percent", s.MemoryPercent, 1, 100)
	}
	v.duration("scaling.scale_up_cooldown", s.ScaleUpCooldown)
	v.duration("scaling.scale_down_cooldown", s.ScaleDownCooldown)
}

func (c *Constraint) validate(v *validator, field string) {
	if c == nil {
		v.add(field, "must not be null")
		return
	}
	v.oneOf(field+".operator", c.Operator, ConstraintOperators...)
	if c.Attribute == "" && c.Operator != "distinct_hosts" {
		v.add(field+".attribute", "is required")
	}
	switch c.Operator {
	case "is_set", "is_not_set", "distinct_hosts":
	case "regexp":
		if _, err := regexp.Compile(c.Value); err != nil {
			v.add(field+".value", "must be a regular expression: %s", err)
		}
	default:
		if c.Value == "" {
			v.add(field+".value", "is required with operator %q", c.Operator)
		}
	}
}

// validateVolumes checks the group's volumes and returns their names.
func (g *TaskGroup) validateVolumes(v *validator) map[string]bool {
	names := map[string]bool{}
	for i, vol := range g.Volumes {
		if vol == nil {
			v.add(fmt.Sprintf("volume[%d]", i), "must not be null")
			continue
		}
		field := fmt.Sprintf("volume %q", vol.Name)
		if vol.Name == "" {
			v.add(field, "must have a name")
		}
		v.dup(names, "volume", vol.Name)
		v.oneOf(field+".type", vol.Type, VolumeTypeEphemeral, VolumeTypeHost)
		if vol.Type == VolumeTypeHost && vol.Source == "" {
			v.add(field+".source", "is required for host volumes")
		}
	}
	return names
}

func (n *NetworkSpec) validate(v *validator) {
	if n == nil {
		return
	}
	v.oneOf("network.mode", n.Mode, "", "bridge", "host", "none")
	seen := map[string]bool{}
	statics := map[int]string{}
	for i, p := range n.Ports {
		if p == nil {
			v.add(fmt.Sprintf("network.port[%d]", i), "must not be null")
			continue
		}
		field := fmt.Sprintf("network.port %q", p.Label)
		if p.Label == "" {
			v.add(field, "must have a label")
		}
		v.dup(seen, "network.port", p.Label)
		v.between(field+".to", p.To, 0, 65535)
		v.between(field+".static", p.Static, 0, 65535)
		if other, ok := statics[p.Static]; ok && p.Static > 0 {
			v.add(field+".static", "%d is also the static port of %q", p.Static, other)
		} else if p.Static > 0 {
			statics[p.Static] = p.Label
		}
	}
}

func (s *ServiceSpec) validate(v *validator, g *TaskGroup) *validator {
	n := g.Network
	v.dnsLabel("name", s.Name)
	switch {
	case s.Port == "":
		v.add("port", "is required")
	case n.LookupPort(s.Port) == nil:
		v.add("port", "refers to unknown port label %q", s.Port)
	case n.LookupPort(s.Port).To == 0 && n.LookupPort(s.Port).Static == 0:
		// The service's port must be the same for every pod; a dynamic
		// port differs from pod to pod.
		v.add("port", "%q needs a \"to\" (the port the service answers on) or a \"static\" port", s.Port)
	}
	v.oneOf("type", s.Type, ServiceTypeClusterIP, ServiceTypeNodePort)
	if s.Protocol != "" {
		v.oneOf("protocol", s.Protocol, ProtocolTCP, ProtocolUDP)
	}
	if s.SessionAffinity != SessionAffinityNone {
		v.oneOf("session_affinity", s.SessionAffinity, SessionAffinityClientIP)
	}
	if s.NodePort != 0 {
		if s.Type != ServiceTypeNodePort {
			v.add("node_port", "requires type = %q", ServiceTypeNodePort)
		}
		v.between("node_port", s.NodePort, 30000, 32767)
	}
	for i, c := range s.Checks {
		field := fmt.Sprintf("check[%d]", i)
		if c == nil {
			v.add(field, "must not be null")
			continue
		}
		c.validate(v, field, g)
		if s.Protocol == ProtocolUDP && c.Type != "exec" {
			v.add(field+".type", "%q cannot check a udp service: use an exec check", c.Type)
		}
	}
	return v
}

func (c *ServiceCheck) validate(v *validator, field string, g *TaskGroup) {
	n := g.Network
	v.oneOf(field+".type", c.Type, "http", "tcp", "exec")
	switch c.Type {
	case "http":
		if c.Path == "" {
			v.add(field+".path", "is required for http checks")
		} else if !strings.HasPrefix(c.Path, "/") {
			v.add(field+".path", "must start with \"/\"")
		}
	case "exec":
		if c.Command == "" {
			v.add(field+".command", "is required for exec checks")
		}
		if c.Task != "" && g.LookupTask(c.Task) == nil {
			v.add(field+".task", "refers to unknown task %q", c.Task)
		}
	}
	if c.Task != "" && c.Type != "exec" {
		v.add(field+".task", "is only for exec checks")
	}
	if c.Port != "" && n.LookupPort(c.Port) == nil {
		v.add(field+".port", "refers to unknown port label %q", c.Port)
	}
	v.positiveDuration(field+".interval", c.Interval)
	v.positiveDuration(field+".timeout", c.Timeout)
}

func (r *RestartPolicy) validate(v *validator) {
	if r == nil {
		return
	}
	if r.Attempts < 0 {
		v.add("restart.attempts", "must be >= 0")
	}
	v.duration("restart.interval", r.Interval)
	v.duration("restart.delay", r.Delay)
	v.oneOf("restart.mode", r.Mode, RestartModeDelay, RestartModeFail)
}

func (t *Task) validate(v *validator, volumes map[string]bool, network *NetworkSpec) *validator {
	v.dnsLabel("name", t.Name)
	if t.Driver == "" {
		v.add("driver", "is required")
	}
	v.duration("kill_timeout", t.KillTimeout)
	if t.KillSignal != "" && !ValidSignal(t.KillSignal) {
		v.add("kill_signal", "%q is not a signal (a name such as \"SIGINT\" or \"INT\", or a number 1-64)", t.KillSignal)
	}
	t.Config.validate(v, t.Driver)
	if t.Config != nil {
		for i, label := range t.Config.Ports {
			if network.LookupPort(label) == nil {
				v.add(fmt.Sprintf("config.ports[%d]", i), "refers to unknown port label %q (the group's network ports)", label)
			}
		}
	}
	for k := range t.Env {
		if k == "" || strings.ContainsAny(k, "=\x00") {
			v.add("env", "has an invalid variable name %q", k)
		}
	}
	if r := t.Resources; r != nil {
		if r.CPU <= 0 {
			v.add("resources.cpu", "must be > 0")
		}
		if r.MemoryMB <= 0 {
			v.add("resources.memory", "must be > 0")
		}
		if r.GPUs < 0 {
			v.add("resources.gpus", "must be >= 0")
		}
	}
	for i, m := range t.VolumeMounts {
		field := fmt.Sprintf("volume_mount[%d]", i)
		switch {
		case m == nil:
			v.add(field, "must not be null")
			continue
		case m.Volume == "":
			v.add(field+".volume", "is required")
		case !volumes[m.Volume]:
			v.add(field+".volume", "refers to unknown volume %q", m.Volume)
		}
		if !strings.HasPrefix(m.Destination, "/") {
			v.add(field+".destination", "must be an absolute path, got %q", m.Destination)
		}
	}
	return v
}

// configKeys lists, per known driver, the config keys it reads.
var configKeys = map[string][]string{
	DriverDocker: {"image", "entrypoint", "pull", "command", "args", "work_dir", "labels", "privileged",
		"cap_add", "cap_drop", "volumes", "ports"},
	DriverExec:    {"command", "args", "work_dir"},
	DriverRawExec: {"command", "args", "work_dir"},
	DriverGPUSlurm: {"script", "files", "gpus", "partition", "time", "nodes", "ntasks", "cpus_per_task",
		"mem", "account", "qos", "array", "env"},
}

// setKeys returns the config keys that are set, in HCL spelling.
func (c *TaskConfig) setKeys() []string {
	if c == nil {
		return nil
	}
	set := []struct {
		key string
		on  bool
	}{
		{"image", c.Image != ""}, {"entrypoint", len(c.Entrypoint) > 0},
		{"pull", c.Pull != ""}, {"command", c.Command != ""},
		{"args", len(c.Args) > 0}, {"work_dir", c.WorkDir != ""},
		{"script", c.Script != ""}, {"files", len(c.Files) > 0},
		{"gpus", c.GPUs != 0}, {"partition", c.Partition != ""},
		{"time", c.Time != ""}, {"labels", len(c.Labels) > 0},
		{"privileged", c.Privileged}, {"cap_add", len(c.CapAdd) > 0},
		{"cap_drop", len(c.CapDrop) > 0}, {"volumes", len(c.Volumes) > 0},
		{"ports", len(c.Ports) > 0}, {"nodes", c.Nodes != 0},
		{"ntasks", c.NTasks != 0}, {"cpus_per_task", c.CPUsPerTask != 0},
		{"mem", c.Mem != ""}, {"account", c.Account != ""},
		{"qos", c.QOS != ""}, {"array", c.Array != ""}, {"env", len(c.Env) > 0},
	}
	var keys []string
	for _, s := range set {
		if s.on {
			keys = append(keys, s.key)
		}
	}
	return keys
}

func (c *TaskConfig) validate(v *validator, driver string) {
	allowed, known := configKeys[driver]
	if !known {
		return
	}
	for _, k := range c.setKeys() {
		if !contains(allowed, k) {
			v.add("config."+k, "is not used by driver %q", driver)
		}
	}
	if c == nil {
		c = &TaskConfig{}
	}
	switch driver {
	case DriverDocker:
		if c.Image == "" {
			v.add("config.image", "is required by driver %q", driver)
		}
		if c.Pull != "" {
			v.oneOf("config.pull", c.Pull, PullAlways, PullIfNotPresent, PullNever)
		}
		for i, vol := range c.Volumes {
			if err := checkBind(vol); err != nil {
				v.add(fmt.Sprintf("config.volumes[%d]", i), "%v", err)
			}
		}
	case DriverExec, DriverRawExec:
		if c.Command == "" {
			v.add("config.command", "is required by driver %q", driver)
		}
	case DriverGPUSlurm:
		c.validateSlurm(v)
	}
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

// Docker pull policies (config.pull); "" is PullIfNotPresent.
const (
	PullAlways       = "always"
	PullIfNotPresent = "if-not-present"
	PullNever        = "never"
)

// checkBind checks a docker volume "host:container[:ro|rw]": both paths
// absolute. Whether the host path is allowed is the client's to say.
func checkBind(s string) error {
	parts := strings.Split(s, ":")
	if len(parts) < 2 || len(parts) > 3 {
		return fmt.Errorf("%q is not host_path:container_path[:ro]", s)
	}
	if !strings.HasPrefix(parts[0], "/") || !strings.HasPrefix(parts[1], "/") {
		return fmt.Errorf("%q: both paths must be absolute", s)
	}
	if len(parts) == 3 && parts[2] != "ro" && parts[2] != "rw" {
		return fmt.Errorf("%q: the mode must be ro or rw", s)
	}
	return nil
}
