package client

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mk-orchestrator/mk/structs"
)

// podOnPort is a pod whose port "http" the scheduler put on addr.
func podOnPort(t *testing.T, addr string) *structs.Pod {
	t.Helper()
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.Atoi(port)
	return &structs.Pod{Ports: []*structs.AllocatedPort{{Label: "http", Value: n, To: n, HostIP: host}}}
}

func TestProbeHTTPAndTCP(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("User-Agent") != "mk-health-check" {
			w.WriteHeader(http.StatusBadRequest)
		}
	})
	mux.HandleFunc("/down", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) })
	mux.HandleFunc("/moved", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/ok", http.StatusFound) })
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	srv := httptest.NewServer(mux)
	defer srv.Close()
	up := podOnPort(t, srv.Listener.Addr().String())

	// A port nothing listens on: listen, note it, close.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := podOnPort(t, l.Addr().String())
	l.Close()

	c := &Client{}
	cases := []struct {
		name       string
		pod        *structs.Pod
		check      *structs.ServiceCheck
		wantStatus string
		wantOutput string
	}{
		{"http 200", up, &structs.ServiceCheck{Type: "http", Path: "/ok"}, structs.CheckPassing, "HTTP 200 OK"},
		{"http 503", up, &structs.ServiceCheck{Type: "http", Path: "/down"}, structs.CheckCritical, "HTTP 503 Service Unavailable"},
		{"http redirect is not followed", up, &structs.ServiceCheck{Type: "http", Path: "/moved"}, structs.CheckCritical, "HTTP 302 Found"},
		{"http timeout", up, &structs.ServiceCheck{Type: "http", Path: "/slow"}, structs.CheckCritical, "context deadline exceeded"},
		{"http refused", closed, &structs.ServiceCheck{Type: "http", Path: "/"}, structs.CheckCritical, "connection refused"},
		{"tcp open", up, &structs.ServiceCheck{Type: "tcp"}, structs.CheckPassing, "connected to " + srv.Listener.Addr().String()},
		{"tcp refused", closed, &structs.ServiceCheck{Type: "tcp"}, structs.CheckCritical, "connection refused"},
		{"no such port", up, &structs.ServiceCheck{Type: "tcp", Port: "admin"}, structs.CheckCritical, `port "admin" has no address on this node`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			pc := &podCheck{spec: tc.check, portLabel: firstNonEmpty(tc.check.Port, "http"), timeout: 300 * time.Millisecond}
			status, out := c.probe(context.Background(), tc.pod, "", pc)
			if status != tc.wantStatus || !strings.Contains(out, tc.wantOutput) {
				t.Fatalf("probe = %q, %q; want %q with %q", status, out, tc.wantStatus, tc.wantOutput)
			}
		})
	}
}

func TestCheckAddrUnspecifiedHostIsLoopback(t *testing.T) {
	pod := &structs.Pod{Ports: []*structs.AllocatedPort{{Label: "http", Value: 20001, HostIP: "0.0.0.0"}, {Label: "db", Value: 20002, HostIP: "10.0.0.5"}}}
	for label, want := range map[string]string{"http": "127.0.0.1:20001", "db": "10.0.0.5:20002"} {
		if got, err := checkAddr(pod, "", label); err != nil || got != want {
			t.Errorf("checkAddr(%q) = %q, %v; want %q", label, got, err, want)
		}
	}
}

// TestCheckAddrBridgePod: a pod with its own address is probed there, on
// the port inside the pod (to), not on the node port.
func TestCheckAddrBridgePod(t *testing.T) {
	pod := &structs.Pod{Ports: []*structs.AllocatedPort{{Label: "http", Value: 20001, To: 8080, HostIP: "10.0.0.5"}, {Label: "db", Value: 5432, HostIP: "10.0.0.5"}}}
	for label, want := range map[string]string{"http": "10.42.1.7:8080", "db": "10.42.1.7:5432"} {
		if got, err := checkAddr(pod, "10.42.1.7", label); err != nil || got != want {
			t.Errorf("checkAddr(%q) = %q, %v; want %q", label, got, err, want)
		}
	}
	if _, err := checkAddr(pod, "10.42.1.7", "admin"); err == nil {
		t.Error("checkAddr of an unknown label: no error")
	}
}

func TestPodChecksNamesAndDefaults(t *testing.T) {
	g := &structs.TaskGroup{
		Tasks: []*structs.Task{{Name: "app"}, {Name: "side"}},
		Services: []*structs.ServiceSpec{
			{Name: "web", Port: "http", Checks: []*structs.ServiceCheck{
				{Type: "http", Path: "/", Interval: "5s", Timeout: "1s"},
				{Type: "tcp", Port: "admin", Interval: "5s", Timeout: "1s"},
			}},
			{Name: "db", Port: "db", Checks: []*structs.ServiceCheck{
				{Name: "ready", Type: "exec", Command: "true", Task: "side", Interval: "1s", Timeout: "1s"},
				{Type: "exec", Command: "true", Interval: "1s", Timeout: "1s"},
			}},
		},
	}
	checks, statuses := podChecks(g)
	wantNames := []string{"web-http", "web-tcp-1", "ready", "db-exec-1"}
	wantPorts := []string{"http", "admin", "db", "db"}
	wantTasks := []string{"app", "app", "side", "app"}
	if len(checks) != 4 || len(statuses) != 4 {
		t.Fatalf("got %d checks, %d statuses; want 4", len(checks), len(statuses))
	}
	for i := range checks {
		if statuses[i].Name != wantNames[i] || statuses[i].Status != structs.CheckPending || checks[i].index != i ||
			checks[i].portLabel != wantPorts[i] || checks[i].task != wantTasks[i] {
			t.Errorf("check %d: name %q status %q index %d port %q task %q; want %q pending %d %q %q", i, statuses[i].Name,
				statuses[i].Status, checks[i].index, checks[i].portLabel, checks[i].task, wantNames[i], i, wantPorts[i], wantTasks[i])
		}
	}
	if checks[0].interval != 5*time.Second || checks[0].timeout != time.Second {
		t.Errorf("interval/timeout = %s/%s, want 5s/1s", checks[0].interval, checks[0].timeout)
	}
}

// TestCheckPacer: a check that has not passed since its tasks started is
// retried after 50 ms, doubling up to its interval; once passed, a
// failure waits the interval (the bound on removing a failing pod); a
// task restart makes it fast again.
func TestCheckPacer(t *testing.T) {
	p := checkPacer{interval: time.Second}
	var got []time.Duration
	for _, st := range []string{structs.CheckPending, structs.CheckCritical, structs.CheckCritical, structs.CheckCritical,
		structs.CheckCritical, structs.CheckCritical, structs.CheckCritical, structs.CheckPassing, structs.CheckCritical} {
		got = append(got, p.next(st))
	}
	ms := time.Millisecond
	want := []time.Duration{time.Second, 50 * ms, 100 * ms, 200 * ms, 400 * ms, 800 * ms, time.Second, time.Second, time.Second}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("waits = %v, want %v", got, want)
	}
	p.restart()
	if d := p.next(structs.CheckCritical); d != 50*ms {
		t.Errorf("after a restart, a failing check waits %v, want 50ms", d)
	}
}
