package docker

import (
	"strings"
	"testing"

	"github.com/docker/docker/api/types/container"
	"github.com/google/go-cmp/cmp"

	"github.com/mk-orchestrator/mk/drivers"
	"github.com/mk-orchestrator/mk/structs"
)

func TestBuildSpec(t *testing.T) {
	base := func() *drivers.TaskConfig {
		return &drivers.TaskConfig{ID: "0123456789abcdef/web", PodID: "0123456789abcdef", Name: "web", NodeID: "n1", JobID: "j1",
			ResolvConfPath: "/pods/p/resolv.conf", TaskDir: "/pods/p/web",
			Mounts: []*drivers.MountConfig{{HostPath: "/pods/p/vol", TaskPath: "/srv", ReadOnly: true}},
			Task: &structs.Task{Name: "web", User: "nobody", Env: map[string]string{"B": "2", "A": "1"},
				Resources: &structs.Resources{CPU: 200, MemoryMB: 64},
				Config: &structs.TaskConfig{Image: "img", Command: "httpd", Args: []string{"-f"}, WorkDir: "/w",
					Labels: map[string]string{"team": "x", LabelPod: "spoofed"}, CapDrop: []string{"NET_RAW"}}}}
	}
	for _, tc := range []struct {
		name    string
		cfg     Config
		change  func(*drivers.TaskConfig)
		pauseID string
		check   func(*testing.T, *containerSpec)
		wantErr string
	}{
		{name: "defaults in a pod sandbox", pauseID: "pause1", check: func(t *testing.T, s *containerSpec) {
			want := map[string]string{"team": "x", LabelManaged: "true", LabelNode: "n1", LabelPod: "0123456789abcdef",
				LabelJob: "j1", LabelTask: "web", LabelRole: roleTask}
			if diff := cmp.Diff(want, s.Config.Labels); diff != "" {
				t.Errorf("labels (-want +got):\n%s", diff)
			}
			if s.Name != "mk-01234567-web" || string(s.Host.NetworkMode) != "container:pause1" {
				t.Errorf("name %s network %s", s.Name, s.Host.NetworkMode)
			}
			if diff := cmp.Diff([]string{"httpd", "-f"}, []string(s.Config.Cmd)); diff != "" {
				t.Errorf("cmd: %s", diff)
			}
			if diff := cmp.Diff([]string{"A=1", "B=2"}, s.Config.Env); diff != "" {
				t.Errorf("env: %s", diff)
			}
			if diff := cmp.Diff([]string{"/pods/p/resolv.conf:/etc/resolv.conf:ro", "/pods/p/web/hosts:/etc/hosts:ro", "/pods/p/vol:/srv:ro"}, s.Host.Binds); diff != "" {
				t.Errorf("binds: %s", diff)
			}
			if s.Host.CPUShares != 200 || s.Host.CPUQuota != 100_000 || s.Host.Memory != 64<<20 || s.Host.MemorySwap != 64<<20 {
				t.Errorf("resources: %+v", s.Host.Resources)
			}
			if s.Config.User != "nobody" || s.Config.WorkingDir != "/w" || s.Host.Privileged {
				t.Errorf("user %q workdir %q privileged %v", s.Config.User, s.Config.WorkingDir, s.Host.Privileged)
			}
		}},
		{name: "host network", check: func(t *testing.T, s *containerSpec) {
			if s.Host.NetworkMode != "host" {
				t.Errorf("network %s", s.Host.NetworkMode)
			}
			for _, b := range s.Host.Binds {
				if strings.Contains(b, ":/etc/hosts") {
					t.Errorf("bind %s: the host's network keeps the Engine's hosts file", b)
				}
			}
		}},
		{name: "args only go to the entrypoint", change: func(c *drivers.TaskConfig) {
			c.Task.Config.Command, c.Task.Config.Entrypoint = "", []string{"/bin/sh", "-c"}
		}, check: func(t *testing.T, s *containerSpec) {
			if strings.Join(s.Config.Entrypoint, " ") != "/bin/sh -c" || strings.Join(s.Config.Cmd, " ") != "-f" {
				t.Errorf("entrypoint %v cmd %v", s.Config.Entrypoint, s.Config.Cmd)
			}
		}},
		{name: "privileged refused", change: func(c *drivers.TaskConfig) { c.Task.Config.Privileged = true },
			wantErr: "privileged containers are not allowed"},
		{name: "privileged allowed", cfg: Config{AllowPrivileged: true}, change: func(c *drivers.TaskConfig) { c.Task.Config.Privileged = true },
			check: func(t *testing.T, s *containerSpec) {
				if !s.Host.Privileged {
					t.Error("not privileged")
				}
			}},
		{name: "volume outside the allow-list", cfg: Config{Volumes: []string{"/data"}},
			change:  func(c *drivers.TaskConfig) { c.Task.Config.Volumes = []string{"/datum:/d"} },
			wantErr: "not in the client's allowed volumes"},
		{name: "volume in the allow-list", cfg: Config{Volumes: []string{"/data/"}},
			change: func(c *drivers.TaskConfig) { c.Task.Config.Volumes = []string{"/data/x:/d:ro"} },
			check: func(t *testing.T, s *containerSpec) {
				if s.Host.Binds[len(s.Host.Binds)-1] != "/data/x:/d:ro" {
					t.Errorf("binds %v", s.Host.Binds)
				}
			}},
		{name: "gpus as a device request", change: func(c *drivers.TaskConfig) { c.GPUs = []string{"1", "2"} },
			check: func(t *testing.T, s *containerSpec) {
				want := []container.DeviceRequest{{Driver: "nvidia", DeviceIDs: []string{"1", "2"}, Capabilities: [][]string{{"gpu"}}}}
				if diff := cmp.Diff(want, s.Host.DeviceRequests); diff != "" {
					t.Errorf("device requests (-want +got):\n%s", diff)
				}
			}},
		{name: "no image", change: func(c *drivers.TaskConfig) { c.Task.Config.Image = "" }, wantErr: "config.image is required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := &Driver{cfg: tc.cfg, coreMHz: 2000}
			cfg := base()
			if tc.change != nil {
				tc.change(cfg)
			}
			s, err := d.buildSpec(cfg, tc.pauseID)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, s)
		})
	}
}

// TestResourcesCPUQuota: cpu MHz over one core's MHz is the share of a
// core the CFS quota allows, per 1s period, never under 1ms.
func TestResourcesCPUQuota(t *testing.T) {
	for _, tc := range []struct {
		name          string
		cpu, coreMHz  int
		shares, quota int64
	}{
		{"a fifth of a core", 500, 2500, 500, 200_000},
		{"two cores", 5000, 2500, 5000, 2_000_000},
		{"the kernel's floor", 1, 3000, 2, 1_000},
		{"unknown clock: shares only", 500, 0, 500, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := resources(&structs.Resources{CPU: tc.cpu, MemoryMB: 8}, tc.coreMHz)
			if r.CPUShares != tc.shares || r.CPUQuota != tc.quota {
				t.Errorf("shares %d quota %d, want %d and %d", r.CPUShares, r.CPUQuota, tc.shares, tc.quota)
			}
			if tc.quota != 0 && r.CPUPeriod != cpuPeriod {
				t.Errorf("period %d, want %d", r.CPUPeriod, cpuPeriod)
			}
		})
	}
}

func TestParseSignal(t *testing.T) {
	for in, want := range map[string]int{"": 15, "SIGTERM": 15, "int": 2, "9": 9, "SIGUSR1": 10} {
		got, err := parseSignal(in)
		if err != nil || int(got) != want {
			t.Errorf("parseSignal(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	if _, err := parseSignal("SIGNOPE"); err == nil {
		t.Error("parseSignal accepted SIGNOPE")
	}
}
