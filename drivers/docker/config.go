package docker

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/docker/docker/api/types/container"

	"github.com/mk-orchestrator/mk/drivers"
	"github.com/mk-orchestrator/mk/structs"
)

// Labels mk puts on every container it makes.
const (
	LabelManaged = "mk.managed"
	LabelNode    = "mk.node"
	LabelPod     = "mk.pod"
	LabelJob     = "mk.job"
	LabelTask    = "mk.task"
	LabelRole    = "mk.role"

	roleTask  = "task"
	rolePause = "pause"
)

// minCPUShares is the least the kernel takes (cgroup v1 cpu.shares).
const minCPUShares = 2

// CFS bandwidth: a task's CPU quota per cpuPeriod, at least minCPUQuota
// (the kernel refuses less than 1ms). The period is the kernel's longest,
// 1s, not the usual 100ms: a container's start (runc's init, then the
// program's own start-up) is a burst of CPU that fits in its first
// period's budget, where 100ms periods held a 100 MHz task to 4ms each
// and made `docker run` of busybox 400ms slower (measured: 330 -> 750
// ms). The price is coarser throttling: a task that spends its budget
// early waits for the next second.
const (
	cpuPeriod   = 1_000_000 // µs
	minCPUQuota = 1_000     // µs
)

// containerSpec is what the driver asks the Engine to create for a task.
type containerSpec struct {
	Name   string
	Config *container.Config
	Host   *container.HostConfig
}

// buildSpec turns a task's config into a container spec: pauseID is the
// pod's pause container ("" for a pod in the host's network). It refuses
// what the driver config does not allow (privileged, binds outside the
// volumes allow-list).
func (d *Driver) buildSpec(cfg *drivers.TaskConfig, pauseID string) (*containerSpec, error) {
	t := cfg.Task
	if t == nil || t.Config == nil || t.Config.Image == "" {
		return nil, fmt.Errorf("task %s: config.image is required", cfg.Name)
	}
	tc := t.Config
	if tc.Privileged && !d.cfg.AllowPrivileged {
		return nil, fmt.Errorf("task %s: privileged containers are not allowed on this node (driver \"docker\" { allow_privileged = true })", cfg.Name)
	}
	binds, err := d.binds(cfg, pauseID != "")
	if err != nil {
		return nil, fmt.Errorf("task %s: %w", cfg.Name, err)
	}
	c := &container.Config{
		Image:      tc.Image,
		Env:        envList(t.Env),
		Labels:     labels(tc.Labels, cfg.NodeID, cfg.PodID, cfg.JobID, cfg.Name, roleTask),
		WorkingDir: tc.WorkDir,
		User:       t.User,
		Entrypoint: tc.Entrypoint,
		Cmd:        command(tc),
	}
	h := &container.HostConfig{
		Binds:       binds,
		Privileged:  tc.Privileged,
		CapAdd:      tc.CapAdd,
		CapDrop:     tc.CapDrop,
		NetworkMode: "host",
		LogConfig:   container.LogConfig{Type: "json-file", Config: map[string]string{"max-size": "10m", "max-file": "2"}},
		Resources:   resources(t.Resources, d.coreMHz),
	}
	if len(cfg.GPUs) > 0 {
		// The GPUs the scheduler gave the task, as `docker run --gpus
		// '"device=0,1"'` asks for them.
		h.DeviceRequests = []container.DeviceRequest{gpuRequest(cfg.GPUs)}
	}
	if pauseID != "" {
		h.NetworkMode = container.NetworkMode("container:" + pauseID)
	}
	return &containerSpec{Name: containerName(cfg.PodID, cfg.Name), Config: c, Host: h}, nil
}

// gpuRequest asks the Engine (its nvidia runtime) for the GPUs with the
// given indexes.
func gpuRequest(gpus []string) container.DeviceRequest {
	return container.DeviceRequest{Driver: "nvidia", DeviceIDs: gpus, Capabilities: [][]string{{"gpu"}}}
}

// hostsContent is a pod's /etc/hosts. The pause container has no network
// of the Engine's (pauseSpec), so the Engine gives the containers that
// join it an empty hosts file; this is what it writes for network "none".
const hostsContent = `127.0.0.1	localhost
::1	localhost ip6-localhost ip6-loopback
fe00::0	ip6-localnet
ff00::0	ip6-mcastprefix
ff02::1	ip6-allnodes
ff02::2	ip6-allrouters
`

// hostsPath is the task's hosts file, in its directory.
func hostsPath(cfg *drivers.TaskConfig) string { return filepath.Join(cfg.TaskDir, "hosts") }

// writeHosts writes the task's hosts file (see hostsContent).
func writeHosts(cfg *drivers.TaskConfig) error {
	if err := os.WriteFile(hostsPath(cfg), []byte(hostsContent), 0o644); err != nil {
		return fmt.Errorf("write the hosts file: %w", err)
	}
	return nil
}

// command is the container's Cmd: command then args, or args alone
// (given to the image's entrypoint); nil keeps the image's.
func command(tc *structs.TaskConfig) []string {
	if tc.Command == "" {
		return tc.Args
	}
	return append([]string{tc.Command}, tc.Args...)
}

// resources maps a task's resources: memory MB to a hard limit without
// swap; CPU MHz to cpu shares (as exec does: the weight under contention)
// and to a CFS quota, the hard ceiling. The node's CPU is its cores times
// coreMHz, so a task asking for cpu MHz gets cpu/coreMHz of one core:
// quota = cpu × period / coreMHz µs per 1s period (500 MHz on 2500 MHz
// cores: 200ms per second, a fifth of a core; 5000 MHz: two cores), never
// under the kernel's 1ms.
func resources(r *structs.Resources, coreMHz int) container.Resources {
	if r == nil {
		return container.Resources{}
	}
	out := container.Resources{}
	if r.CPU > 0 {
		out.CPUShares = int64(max(r.CPU, minCPUShares))
		if coreMHz > 0 {
			out.CPUPeriod = cpuPeriod
			out.CPUQuota = max(int64(r.CPU)*cpuPeriod/int64(coreMHz), minCPUQuota)
		}
	}
	if r.MemoryMB > 0 {
		out.Memory = int64(r.MemoryMB) << 20
		out.MemorySwap = out.Memory
	}
	return out
}

// binds are the container's bind mounts: the pod's resolv.conf at
// /etc/resolv.conf, in a pod sandbox the task's hosts file at /etc/hosts,
// the group's volume_mounts, then config.volumes, each host path of which
// must be below one of the driver's allowed volumes.
func (d *Driver) binds(cfg *drivers.TaskConfig, sandboxed bool) ([]string, error) {
	var out []string
	if cfg.ResolvConfPath != "" {
		out = append(out, cfg.ResolvConfPath+":/etc/resolv.conf:ro")
	}
	if sandboxed && cfg.TaskDir != "" {
		out = append(out, hostsPath(cfg)+":/etc/hosts:ro")
	}
	for _, m := range cfg.Mounts {
		b := m.HostPath + ":" + m.TaskPath
		if m.ReadOnly {
			b += ":ro"
		}
		out = append(out, b)
	}
	if cfg.Task.Config == nil {
		return out, nil
	}
	for _, v := range cfg.Task.Config.Volumes {
		host, _, _ := strings.Cut(v, ":")
		if !d.volumeAllowed(host) {
			return nil, fmt.Errorf("volume %q: host path %s is not in the client's allowed volumes (driver \"docker\" { volumes = [...] })", v, host)
		}
		out = append(out, v)
	}
	return out, nil
}

// volumeAllowed reports whether host is an allowed volume or below one.
func (d *Driver) volumeAllowed(host string) bool {
	host = filepath.Clean(host)
	for _, a := range d.cfg.Volumes {
		a = filepath.Clean(a)
		if host == a || strings.HasPrefix(host, strings.TrimSuffix(a, "/")+"/") {
			return true
		}
	}
	return false
}

// labels are the user's labels with mk's own on top.
func labels(user map[string]string, node, pod, job, task, role string) map[string]string {
	out := make(map[string]string, len(user)+6)
	for k, v := range user {
		out[k] = v
	}
	out[LabelManaged], out[LabelNode], out[LabelPod], out[LabelJob], out[LabelRole] = "true", node, pod, job, role
	if task != "" {
		out[LabelTask] = task
	}
	return out
}

// envList is env as KEY=value, sorted.
func envList(env map[string]string) []string {
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// podPrefixLen is how much of a pod ID a container name holds.
const podPrefixLen = 8

// containerName is mk-<pod ID prefix>-<name>.
func containerName(podID, name string) string {
	return "mk-" + podID[:min(len(podID), podPrefixLen)] + "-" + name
}

// longContainerName is mk-<pod ID>-<name>, for when the short name is
// another pod's.
func longContainerName(podID, name string) string { return "mk-" + podID + "-" + name }
