package structs

import (
	"encoding/json"
	"errors"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

// validJob returns a canonical job that uses every block.
func validJob() *Job {
	j := &Job{
		ObjectMeta:  ObjectMeta{Name: "web"},
		Datacenters: []string{"dc1"},
		Groups: []*TaskGroup{{
			Name:        "frontend",
			Count:       3,
			Update:      &UpdateStrategy{MaxSurge: 1, MaxUnavailable: 1, MinHealthyTime: "5s"},
			Scaling:     &ScalingPolicy{Min: 2, Max: 10, CPUPercent: 60},
			Constraints: []*Constraint{{Attribute: "${node.datacenter}", Value: "dc1"}},
			Volumes:     []*VolumeRequest{{Name: "shared"}},
			Network:     &NetworkSpec{Ports: []*Port{{Label: "http", To: 80}}},
			Services: []*ServiceSpec{{
				Name: "web", Port: "http", Type: ServiceTypeNodePort, NodePort: 30080,
				Checks: []*ServiceCheck{{Type: "http", Path: "/", Interval: "5s", Timeout: "1s"}},
			}},
			Ingress: &IngressSpec{Host: "shop.local", Paths: []*IngressPath{{Path: "/", Service: "web", Port: 80}}},
			Restart: &RestartPolicy{Attempts: 3, Interval: "1m", Delay: "2s", Mode: RestartModeDelay},
			Tasks: []*Task{{
				Name:         "nginx",
				Driver:       DriverDocker,
				Config:       &TaskConfig{Image: "mk/busybox:test", Command: "httpd", Args: []string{"-f"}},
				Env:          map[string]string{"GREETING": "hello"},
				Resources:    &Resources{CPU: 200, MemoryMB: 64},
				VolumeMounts: []*VolumeMount{{Volume: "shared", Destination: "/srv"}},
			}, {
				Name:   "sidecar",
				Driver: DriverExec,
				Config: &TaskConfig{Command: "/bin/sh", Args: []string{"-c", "true"}},
			}},
		}},
	}
	j.Canonicalize()
	return j
}

func TestValidJob(t *testing.T) {
	if err := validJob().Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestValidate(t *testing.T) {
	const g = `job "web" group "frontend"`
	const nginx = g + ` task "nginx"`
	tests := []struct {
		name   string
		mutate func(j *Job)
		want   []string
	}{
		{"empty name", func(j *Job) { j.Name = "" }, []string{`job "": name is required`}},
		{"bad name", func(j *Job) { j.Name = "Web" }, []string{
			`job "Web": name must be lowercase letters, digits and '-', starting and ending with a letter or digit, got "Web"`}},
		{"long name", func(j *Job) { j.Name = strings.Repeat("a", 64) }, []string{
			`job "` + strings.Repeat("a", 64) + `": name must be at most 63 characters, got 64`}},
		{"type", func(j *Job) { j.Type = "cron" }, []string{
			`job "web": type must be one of service, batch, system, function; got "cron"`}},
		{"priority", func(j *Job) { j.Priority = 101 }, []string{`job "web": priority must be between 1 and 100, got 101`}},
		{"no groups", func(j *Job) { j.Groups = nil }, []string{`job "web": must have at least one group`}},
		{"null group", func(j *Job) { j.Groups = append(j.Groups, nil) }, []string{`job "web": group[1] must not be null`}},
		{"duplicate group", func(j *Job) { j.Groups = append(j.Groups, Copy(j.Groups[0])) }, []string{
			`job "web": group "frontend" is defined more than once`}},
		{"negative count", func(j *Job) { j.Groups[0].Count = -1; j.Groups[0].Scaling = nil }, []string{
			g + `: count must be >= 0`}},
		{"count outside scaling", func(j *Job) { j.Groups[0].Count = 11 }, []string{
			g + `: count must be between scaling.min (2) and scaling.max (10), got 11`}},
		{"no tasks", func(j *Job) { j.Groups[0].Tasks = nil }, []string{g + `: must have at least one task`}},
		{"duplicate task", func(j *Job) { j.Groups[0].Tasks[1].Name = "nginx" }, []string{
			g + `: task "nginx" is defined more than once`}},
		{"missing driver", func(j *Job) { j.Groups[0].Tasks[0].Driver = "" }, []string{nginx + `: driver is required`}},
		{"plugin driver takes any config", func(j *Job) { j.Groups[0].Tasks[0].Driver = "qemu" }, nil},
		{"cpu and memory", func(j *Job) { j.Groups[0].Tasks[0].Resources = &Resources{CPU: 0, MemoryMB: -1} }, []string{
			nginx + `: resources.cpu must be > 0`, nginx + `: resources.memory must be > 0`}},
		{"config of another driver", func(j *Job) { j.Groups[0].Tasks[1].Config.Image = "nginx" }, []string{
			g + ` task "sidecar": config.image is not used by driver "exec"`}},
		{"exec needs command", func(j *Job) { j.Groups[0].Tasks[1].Config = nil }, []string{
			g + ` task "sidecar": config.command is required by driver "exec"`}},
		{"slurm needs script", func(j *Job) {
			j.Groups[0].Tasks[1].Driver = DriverGPUSlurm
			j.Groups[0].Tasks[1].Config = &TaskConfig{GPUs: 1, Time: "ten minutes"}
		}, []string{
			g + ` task "sidecar": config.script is required by driver "gpu-slurm"`,
			g + ` task "sidecar": config.time must be a duration such as "30s", got "ten minutes"`}},
		{"slurm options", func(j *Job) {
			j.Groups[0].Tasks[1].Driver = DriverGPUSlurm
			j.Groups[0].Tasks[1].Config = &TaskConfig{Script: "#!/bin/sh\n", GPUs: 1, NTasks: -1, Mem: "4 GB",
				Array: "0-3%x", Partition: "gpu queue", Files: map[string]string{"../x": "", "ok.cu": ""},
				Env: map[string]string{"A=B": ""}}
		}, []string{
			g + ` task "sidecar": config.ntasks must be >= 0`,
			g + ` task "sidecar": config.mem "4 GB" is not a size (a number of MB, or with a K, M, G or T suffix: "4G")`,
			g + ` task "sidecar": config.array "0-3%x" is not a Slurm job array ("0-15", "1,3,5-7", "0-99%10")`,
			g + ` task "sidecar": config.partition "gpu queue" is not a Slurm name (letters, digits, '_', '.', '-')`,
			g + ` task "sidecar": config.files["../x"] must be a relative file name inside the task's directory`,
			g + ` task "sidecar": config.env has an invalid variable name "A=B"`}},
		{"slurm options ok", func(j *Job) {
			j.Groups[0].Tasks[1].Driver = DriverGPUSlurm
			j.Groups[0].Tasks[1].Config = &TaskConfig{Script: "#!/bin/sh\n", GPUs: 2, Nodes: 1, NTasks: 2, CPUsPerTask: 4,
				Mem: "4096", Array: "1,3,5-7:2%2", Partition: "gpu", Account: "lab.a", QOS: "normal", Time: "1h",
				Files: map[string]string{"src/matmul.cu": ""}, Env: map[string]string{"N": "512"}}
		}, nil},
		{"kill signal", func(j *Job) { j.Groups[0].Tasks[0].KillSignal = "SIGNOPE" }, []string{
			nginx + `: kill_signal "SIGNOPE" is not a signal (a name such as "SIGINT" or "INT", or a number 1-64)`}},
		{"kill signal number", func(j *Job) { j.Groups[0].Tasks[0].KillSignal = "65" }, []string{
			nginx + `: kill_signal "65" is not a signal (a name such as "SIGINT" or "INT", or a number 1-64)`}},
		{"docker ports", func(j *Job) { j.Groups[0].Tasks[0].Config.Ports = []string{"http", "admin"} }, []string{
			nginx + `: config.ports[1] refers to unknown port label "admin" (the group's network ports)`}},
		{"exec ports", func(j *Job) { j.Groups[0].Tasks[1].Config.Ports = []string{"http"} }, []string{
			g + ` task "sidecar": config.ports is not used by driver "exec"`}},
		{"docker pull", func(j *Job) { j.Groups[0].Tasks[0].Config.Pull = "sometimes" }, []string{
			nginx + `: config.pull must be one of always, if-not-present, never; got "sometimes"`}},
		{"unknown volume", func(j *Job) { j.Groups[0].Tasks[0].VolumeMounts[0].Volume = "data" }, []string{
			nginx + `: volume_mount[0].volume refers to unknown volume "data"`}},
		{"relative destination", func(j *Job) { j.Groups[0].Tasks[0].VolumeMounts[0].Destination = "srv" }, []string{
			nginx + `: volume_mount[0].destination must be an absolute path, got "srv"`}},
		{"host volume", func(j *Job) { j.Groups[0].Volumes[0].Type = VolumeTypeHost }, []string{
			g + `: volume "shared".source is required for host volumes`}},
		{"unknown service port", func(j *Job) { j.Groups[0].Services[0].Port = "https" }, []string{
			g + ` service "web": port refers to unknown port label "https"`}},
		{"service on a dynamic port", func(j *Job) { j.Groups[0].Network.Ports[0].To = 0; j.Groups[0].Network.Ports[0].Static = 0 }, []string{
			g + ` service "web": port "http" needs a "to" (the port the service answers on) or a "static" port`}},
		{"unknown check port", func(j *Job) { j.Groups[0].Services[0].Checks[0].Port = "admin" }, []string{
			g + ` service "web": check[0].port refers to unknown port label "admin"`}},
		{"exec check in unknown task", func(j *Job) {
			j.Groups[0].Services[0].Checks[0] = &ServiceCheck{Type: "exec", Command: "true", Task: "db", Interval: "1s", Timeout: "1s"}
		}, []string{g + ` service "web": check[0].task refers to unknown task "db"`}},
		{"task on an http check", func(j *Job) { j.Groups[0].Services[0].Checks[0].Task = "nginx" }, []string{
			g + ` service "web": check[0].task is only for exec checks`}},
		{"check type", func(j *Job) { j.Groups[0].Services[0].Checks[0].Type = "grpc" }, []string{
			g + ` service "web": check[0].type must be one of http, tcp, exec; got "grpc"`}},
		{"check durations", func(j *Job) {
			j.Groups[0].Services[0].Checks[0].Interval = "0s"
			j.Groups[0].Services[0].Checks[0].Timeout = "soon"
		}, []string{
			g + ` service "web": check[0].interval must be > 0`,
			g + ` service "web": check[0].timeout must be a duration such as "30s", got "soon"`}},
		{"service protocol", func(j *Job) { j.Groups[0].Services[0].Protocol = "sctp" }, []string{
			g + ` service "web": protocol must be one of tcp, udp; got "sctp"`}},
		{"udp service with an http check", func(j *Job) { j.Groups[0].Services[0].Protocol = "udp" }, []string{
			g + ` service "web": check[0].type "http" cannot check a udp service: use an exec check`}},
		{"session affinity", func(j *Job) { j.Groups[0].Services[0].SessionAffinity = "cookie" }, []string{
			g + ` service "web": session_affinity must be one of client_ip; got "cookie"`}},
		{"service type", func(j *Job) { j.Groups[0].Services[0].Type = "LoadBalancer" }, []string{
			g + ` service "web": type must be one of ClusterIP, NodePort; got "LoadBalancer"`,
			g + ` service "web": node_port requires type = "NodePort"`}},
		{"node port range", func(j *Job) { j.Groups[0].Services[0].NodePort = 8080 }, []string{
			g + ` service "web": node_port must be between 30000 and 32767, got 8080`}},
		{"duplicate service", func(j *Job) {
			j.Groups[0].Services = append(j.Groups[0].Services, Copy(j.Groups[0].Services[0]))
		}, []string{g + `: service "web" is defined more than once`}},
		{"restart", func(j *Job) { j.Groups[0].Restart.Mode = "retry"; j.Groups[0].Restart.Delay = "-1s" }, []string{
			g + `: restart.delay must not be negative, got "-1s"`,
			g + `: restart.mode must be one of delay, fail; got "retry"`}},
		{"update", func(j *Job) { j.Groups[0].Update.MaxSurge = 0; j.Groups[0].Update.MaxUnavailable = 0 }, []string{
			g + `: update.max_unavailable must be > 0 when update.max_surge is 0`}},
		{"scaling", func(j *Job) {
			j.Groups[0].Scaling = &ScalingPolicy{Min: -1, Max: 5, MemoryPercent: 101, ScaleUpCooldown: "x"}
		}, []string{
			g + `: scaling.min must be >= 0`,
			g + `: scaling.memory_percent must be between 1 and 100, got 101`,
			g + `: scaling.scale_up_cooldown must be a duration such as "30s", got "x"`}},
		{"scaling without a target", func(j *Job) { j.Groups[0].Scaling = &ScalingPolicy{Min: 1, Max: 5, ScaleDownCooldown: "soon"} }, []string{
			g + `: scaling needs a target: cpu_percent, memory_percent or both`,
			g + `: scaling.scale_down_cooldown must be a duration such as "30s", got "soon"`}},
		{"scaling of a batch group", func(j *Job) { j.Type = JobTypeBatch }, []string{
			g + `: scaling is only for groups of service jobs, not batch`}},
		{"ingress", func(j *Job) { j.Groups[0].Ingress.Paths[0] = &IngressPath{Path: "api", Port: 70000} }, []string{
			g + `: ingress.path "api" must start with "/" and hold no '?', '#' or spaces`,
			g + `: ingress.path "api".service is required`,
			g + `: ingress.path "api".port must be between 1 and 65535, got 70000`}},
		{"ingress host", func(j *Job) { j.Groups[0].Ingress.Host = "shop_1.local:8080" }, []string{
			g + `: ingress.host must be a DNS name of lowercase letters, digits, '-' and '.' such as "shop.local", got "shop_1.local:8080"`}},
		{"ingress service name", func(j *Job) { j.Groups[0].Ingress.Paths[0].Service = "Web.svc" }, []string{
			g + `: ingress.path "/".service must be a service name: must be lowercase letters, digits and '-', starting and ending with a letter or digit, got "Web.svc"`}},
		{"ingress port of a service of the job", func(j *Job) { j.Groups[0].Ingress.Paths[0].Port = 8080 }, []string{
			g + `: ingress.path "/".port service "web" of this job has port 80, got 8080`}},
		{"ingress to another job's service", func(j *Job) {
			j.Groups[0].Ingress.Paths = append(j.Groups[0].Ingress.Paths, &IngressPath{Path: "/api", Service: "api", Port: 9000, StripPrefix: true})
		}, nil},
		{"ingress path twice", func(j *Job) {
			j.Groups[0].Ingress.Paths = append(j.Groups[0].Ingress.Paths, Copy(j.Groups[0].Ingress.Paths[0]))
		}, []string{g + `: ingress.path "/" is defined more than once`}},
		{"ingress without paths", func(j *Job) { j.Groups[0].Ingress.Paths = nil }, []string{g + `: ingress must have at least one path`}},
		{"constraint", func(j *Job) { j.Groups[0].Constraints[0] = &Constraint{Operator: "regexp", Value: "("} }, []string{
			g + `: constraint[0].attribute is required`,
			g + ": constraint[0].value must be a regular expression: error parsing regexp: missing closing ): `(`"}},
		{"port range", func(j *Job) { j.Groups[0].Network.Ports[0].To = 70000 }, []string{
			g + `: network.port "http".to must be between 0 and 65535, got 70000`}},
		{"static port twice", func(j *Job) {
			j.Groups[0].Network.Ports[0].Static = 9090
			j.Groups[0].Network.Ports = append(j.Groups[0].Network.Ports, &Port{Label: "admin", Static: 9090})
		}, []string{g + `: network.port "admin".static 9090 is also the static port of "http"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j := validJob()
			tt.mutate(j)
			err := j.Validate()
			var got []string
			if err != nil {
				var verrs ValidationErrors
				if !errors.As(err, &verrs) || !errors.Is(err, ErrBadRequest) {
					t.Fatalf("error %T is not ValidationErrors", err)
				}
				for _, e := range verrs {
					got = append(got, e.Error())
				}
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("errors:\n got: %q\nwant: %q", got, tt.want)
			}
		})
	}
}

func TestCanonicalizeDefaults(t *testing.T) {
	var j Job
	src := `{"Name": "api", "Groups": [{"Name": "g", "Count": 1,
		"Services": [{"Port": "http", "Checks": [{"Type": "tcp"}]}],
		"Constraints": [null, {"Attribute": "a", "Value": "b"}],
		"Tasks": [{"Name": "t", "Driver": "exec"}]}]}`
	if err := json.Unmarshal([]byte(src), &j); err != nil {
		t.Fatal(err)
	}
	j.Canonicalize()
	g := j.Groups[0]
	checks := []struct {
		what      string
		got, want any
	}{
		{"namespace", j.Namespace, "default"},
		{"id", j.ID, "api"},
		{"type", j.Type, JobTypeService},
		{"priority", j.Priority, DefaultPriority},
		{"restart", *g.Restart, *DefaultRestartPolicy(JobTypeService)},
		{"update", *g.Update, *DefaultUpdateStrategy()},
		{"service name", g.Services[0].Name, "api-g"},
		{"service type", g.Services[0].Type, ServiceTypeClusterIP},
		{"check interval", g.Services[0].Checks[0].Interval, DefaultCheckInterval},
		{"check timeout", g.Services[0].Checks[0].Timeout, DefaultCheckTimeout},
		{"constraints", len(g.Constraints), 1},
		{"operator", g.Constraints[0].Operator, "="},
		{"resources", *g.Tasks[0].Resources, Resources{CPU: 100, MemoryMB: 300}},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s: got %v, want %v", c.what, c.got, c.want)
		}
	}
	batch := Job{Type: JobTypeBatch, Groups: []*TaskGroup{{Name: "g"}}}
	batch.Canonicalize()
	if *batch.Groups[0].Restart != *DefaultRestartPolicy(JobTypeBatch) || batch.Groups[0].Update != nil {
		t.Errorf("batch group: restart %+v update %+v", batch.Groups[0].Restart, batch.Groups[0].Update)
	}
}

func TestCanonicalizeIdempotent(t *testing.T) {
	once := validJob()
	twice := Copy(once)
	twice.Canonicalize()
	if !reflect.DeepEqual(once, twice) {
		t.Fatalf("second Canonicalize changed the job: %v", Diff(once, twice))
	}
	var nilJob *Job
	nilJob.Canonicalize()
}

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in, err string
	}{
		{"", ""}, {"30s", ""}, {"1h30m", ""}, {"0", ""},
		{"30", `must be a duration such as "30s", got "30"`},
		{"-1s", `must not be negative, got "-1s"`},
	}
	for _, tt := range tests {
		_, err := ParseDuration(tt.in)
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != tt.err {
			t.Errorf("ParseDuration(%q): error %q, want %q", tt.in, got, tt.err)
		}
	}
}

// FuzzValidate decodes any JSON as a job: Canonicalize and Validate must not
// panic, and a second Canonicalize changes nothing.
func FuzzValidate(f *testing.F) {
	valid, err := json.Marshal(validJob())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(valid)
	f.Add([]byte(`{}`))
	f.Add([]byte(`null`))
	f.Add([]byte(`{"Name":"x","Groups":[null,{"Tasks":[null,{"Config":null}]}]}`))
	f.Add([]byte(`{"Name":"x","Groups":[{"Name":"g","Services":[{"Checks":[null]}],"Network":{"Ports":[null]},"Ingress":{"Paths":[null]}}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var a, b *Job
		if json.Unmarshal(data, &a) != nil || json.Unmarshal(data, &b) != nil {
			return
		}
		a.Canonicalize()
		errA := a.Validate()
		b.Canonicalize()
		b.Canonicalize()
		errB := b.Validate()
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("Canonicalize is not idempotent: %v", Diff(a, b))
		}
		if (errA == nil) != (errB == nil) || errA != nil && errA.Error() != errB.Error() {
			t.Fatalf("Validate differs after a second Canonicalize:\n%v\n%v", errA, errB)
		}
		if errA != nil {
			var verrs ValidationErrors
			if !errors.As(errA, &verrs) || len(verrs) == 0 {
				t.Fatalf("error %T is not ValidationErrors", errA)
			}
		}
	})
}

// isDNSLabel is the loop form of a regexp; the two agree on every input.
func TestIsDNSLabelMatchesRegexp(t *testing.T) {
	re := regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?$`)
	inputs := []string{"", "a", "-", "a-", "-a", "a-b", "a--b", "web", "Web", "w_b", "w.b", "0", "0-0", "é", "a\x00", "ab-"}
	for _, c := range "az09-A_.!é " {
		for _, d := range "az09-" {
			inputs = append(inputs, string(c)+string(d), "x"+string(c)+string(d), string(d)+string(c)+"y")
		}
	}
	for _, s := range inputs {
		if got, want := isDNSLabel(s), re.MatchString(s); got != want {
			t.Errorf("isDNSLabel(%q) = %v, the regexp says %v", s, got, want)
		}
	}
}
