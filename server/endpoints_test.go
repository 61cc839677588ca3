package server

import (
	"reflect"
	"testing"

	"github.com/mk-orchestrator/mk/structs"
)

func TestComputeEndpoints(t *testing.T) {
	svc := &structs.Service{ObjectMeta: structs.ObjectMeta{ID: "web", Name: "web", Namespace: "default"}, JobID: "shop",
		Selector: map[string]string{"job": "shop", "group": "web"},
		Ports:    []*structs.ServicePort{{Name: "http", Protocol: "tcp", Port: 80, TargetPort: 80}},
		Checks:   []*structs.ServiceCheck{{Type: "http", Path: "/"}}}
	labels := map[string]string{"job": "shop", "group": "web", "extra": "x"}
	pod := func(name string, mut func(p *structs.Pod)) *structs.Pod {
		p := &structs.Pod{ObjectMeta: structs.ObjectMeta{ID: name + "-id", Name: name, Namespace: "default", Labels: labels},
			JobID: "shop", NodeID: "n1", NodeName: "node-1", DesiredStatus: structs.PodDesiredRun, Phase: structs.PodPhaseRunning,
			IP: "10.42.0.5", Ports: []*structs.AllocatedPort{{Label: "http", Value: 20001, To: 8080, HostIP: "192.168.1.5"}},
			Checks: []*structs.CheckStatus{{Name: "web-http", Service: "web", Status: structs.CheckPassing}}}
		if mut != nil {
			mut(p)
		}
		return p
	}
	cases := []struct {
		name      string
		pod       *structs.Pod
		want      *structs.Endpoint // nil: not an endpoint
		wantReady bool
	}{
		{"bridge pod serves on its IP and the port's to", pod("a", nil),
			&structs.Endpoint{IP: "10.42.0.5", Ports: map[string]int{"http": 8080}}, true},
		{"host pod serves on its node port", pod("b", func(p *structs.Pod) { p.IP = "" }),
			&structs.Endpoint{IP: "192.168.1.5", Ports: map[string]int{"http": 20001}}, true},
		{"bridge pod without a port map uses the target port", pod("c", func(p *structs.Pod) { p.Ports = nil }),
			&structs.Endpoint{IP: "10.42.0.5", Ports: map[string]int{"http": 80}}, true},
		{"failing check", pod("d", func(p *structs.Pod) {
			p.Checks[0].Status, p.Checks[0].Output = structs.CheckCritical, "HTTP 500"
		}), &structs.Endpoint{IP: "10.42.0.5", Ports: map[string]int{"http": 8080}, Reason: `check "web-http" critical: HTTP 500`}, false},
		{"checks of another service do not count", pod("e", func(p *structs.Pod) { p.Checks[0].Service = "admin" }),
			&structs.Endpoint{IP: "10.42.0.5", Ports: map[string]int{"http": 8080}, Reason: "checks not reported yet"}, false},
		{"pending pod", pod("f", func(p *structs.Pod) { p.Phase = structs.PodPhasePending; p.IP = ""; p.Ports = nil }),
			&structs.Endpoint{Reason: "pod is pending"}, false},
		{"a task waiting out its restart delay", pod("j", func(p *structs.Pod) {
			p.TaskStates = map[string]*structs.TaskState{
				"web":     {State: structs.TaskStateRunning},
				"sidecar": {State: structs.TaskStateRestarting},
				"zlog":    {State: structs.TaskStateDead},
			}
		}), &structs.Endpoint{IP: "10.42.0.5", Ports: map[string]int{"http": 8080}, Reason: "task sidecar is restarting"}, false},
		{"all tasks running", pod("k", func(p *structs.Pod) {
			p.TaskStates = map[string]*structs.TaskState{"web": {State: structs.TaskStateRunning}}
		}), &structs.Endpoint{IP: "10.42.0.5", Ports: map[string]int{"http": 8080}}, true},
		{"stopped pod is no endpoint", pod("g", func(p *structs.Pod) { p.DesiredStatus = structs.PodDesiredStop }), nil, false},
		{"other labels are no endpoint", pod("h", func(p *structs.Pod) { p.Labels = map[string]string{"job": "shop", "group": "db"} }), nil, false},
		{"unplaced pod is no endpoint", pod("i", func(p *structs.Pod) { p.NodeID = "" }), nil, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := computeEndpoints(svc, []*structs.Pod{tc.pod})
			if got.ID != "web" || got.Namespace != "default" || got.JobID != "shop" {
				t.Fatalf("endpoints object %+v", got.ObjectMeta)
			}
			if tc.want == nil {
				if len(got.Endpoints) != 0 {
					t.Fatalf("got endpoint %+v, want none", got.Endpoints[0])
				}
				return
			}
			if len(got.Endpoints) != 1 {
				t.Fatalf("got %d endpoints, want 1", len(got.Endpoints))
			}
			ep := got.Endpoints[0]
			if ep.IP != tc.want.IP || !reflect.DeepEqual(ep.Ports, tc.want.Ports) || ep.Ready != tc.wantReady || ep.Reason != tc.want.Reason {
				t.Fatalf("endpoint = %+v, want %+v ready=%v", ep, tc.want, tc.wantReady)
			}
			if ep.PodID != tc.pod.ID || ep.NodeID != "n1" || ep.NodeName != "node-1" {
				t.Fatalf("endpoint names pod %s on %s/%s", ep.PodID, ep.NodeID, ep.NodeName)
			}
		})
	}
}

func TestComputeEndpointsWithoutChecksTakesRunningPods(t *testing.T) {
	svc := &structs.Service{ObjectMeta: structs.ObjectMeta{ID: "db", Name: "db"}, Selector: map[string]string{"group": "db"},
		Ports: []*structs.ServicePort{{Name: "pg", Port: 5432, TargetPort: 5432}}}
	pods := []*structs.Pod{
		{ObjectMeta: structs.ObjectMeta{ID: "2", Name: "db[1]", Labels: map[string]string{"group": "db"}}, NodeID: "n", DesiredStatus: structs.PodDesiredRun, Phase: structs.PodPhaseRunning, IP: "10.42.1.3"},
		{ObjectMeta: structs.ObjectMeta{ID: "1", Name: "db[0]", Labels: map[string]string{"group": "db"}}, NodeID: "n", DesiredStatus: structs.PodDesiredRun, Phase: structs.PodPhaseRunning, IP: "10.42.1.2"},
	}
	got := computeEndpoints(svc, pods)
	if len(got.Endpoints) != 2 || got.Endpoints[0].PodName != "db[0]" || !got.Endpoints[0].Ready || !got.Endpoints[1].Ready {
		t.Fatalf("endpoints %+v %+v, want both ready, sorted by name", got.Endpoints[0], got.Endpoints[1])
	}
}
