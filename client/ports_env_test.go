package client

import (
	"maps"
	"testing"

	"github.com/mk-orchestrator/mk/structs"
)

func TestAddPortEnv(t *testing.T) {
	cases := []struct {
		name  string
		ports []*structs.AllocatedPort
		podIP string
		want  map[string]string
	}{
		{name: "no ports", want: map[string]string{"KEEP": "1"}},
		{name: "static and dynamic", ports: []*structs.AllocatedPort{
			{Label: "http", Value: 9090, To: 9090, HostIP: "10.0.0.5"},
			{Label: "admin", Value: 20417, To: 8080, HostIP: "10.0.0.5"},
		}, want: map[string]string{
			"KEEP": "1", "MK_IP": "10.0.0.5",
			"MK_PORT_http": "9090", "MK_ADDR_http": "10.0.0.5:9090",
			"MK_PORT_admin": "20417", "MK_ADDR_admin": "10.0.0.5:20417",
		}},
		{name: "IPv6 node", ports: []*structs.AllocatedPort{{Label: "http", Value: 9090, HostIP: "fd00::1"}},
			want: map[string]string{"KEEP": "1", "MK_IP": "fd00::1", "MK_PORT_http": "9090", "MK_ADDR_http": "[fd00::1]:9090"}},
		// A bridge pod listens on the port inside the pod at its own
		// address; the node port is DNATed to it.
		{name: "bridge pod", podIP: "10.42.1.7", ports: []*structs.AllocatedPort{
			{Label: "http", Value: 9090, To: 8080, HostIP: "10.0.0.5"},
			{Label: "admin", Value: 20417, HostIP: "10.0.0.5"},
		}, want: map[string]string{
			"KEEP": "1", "MK_IP": "10.42.1.7",
			"MK_PORT_http": "8080", "MK_ADDR_http": "10.42.1.7:8080",
			"MK_PORT_admin": "20417", "MK_ADDR_admin": "10.42.1.7:20417",
		}},
		{name: "bridge pod without ports", podIP: "10.42.1.7", want: map[string]string{"KEEP": "1", "MK_IP": "10.42.1.7"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{"KEEP": "1"}
			addPortEnv(env, &structs.Pod{Ports: tc.ports}, tc.podIP)
			if !maps.Equal(env, tc.want) {
				t.Fatalf("env %v, want %v", env, tc.want)
			}
		})
	}
}

// TestFingerprintDynamicPorts: the node reports the configured dynamic
// port range, or zeros for the scheduler's default.
func TestFingerprintDynamicPorts(t *testing.T) {
	for _, ports := range [][2]int{{}, {40000, 40100}} {
		c := &Client{config: &Config{NodeName: "n", DynamicPorts: ports}}
		r := c.fingerprint(t.Context()).Resources
		if got := [2]int{r.MinDynamicPort, r.MaxDynamicPort}; got != ports {
			t.Errorf("fingerprint reports ports %v, want %v", got, ports)
		}
	}
}
