package client

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	hclog "github.com/hashicorp/go-hclog"

	"github.com/mk-orchestrator/mk/api"
	"github.com/mk-orchestrator/mk/drivers"
	"github.com/mk-orchestrator/mk/structs"
	"github.com/mk-orchestrator/mk/testutil"
)

func TestDriversChanged(t *testing.T) {
	healthy := func() map[string]*structs.DriverInfo {
		return map[string]*structs.DriverInfo{
			"exec":   {Detected: true, Healthy: true},
			"docker": {Detected: true, Healthy: true, HealthDescription: "Docker Engine 20.10", Attributes: map[string]string{"driver.docker.images": "a"}},
		}
	}
	tests := []struct {
		name   string
		change func(map[string]*structs.DriverInfo)
		want   bool
	}{
		{"same", func(map[string]*structs.DriverInfo) {}, false},
		{"engine down", func(m map[string]*structs.DriverInfo) {
			m["docker"] = &structs.DriverInfo{Detected: true, HealthDescription: "Docker Engine unreachable"}
		}, true},
		{"not detected", func(m map[string]*structs.DriverInfo) { m["docker"].Detected = false }, true},
		{"description", func(m map[string]*structs.DriverInfo) { m["docker"].HealthDescription = "Docker Engine 24.0" }, true},
		{"image imported", func(m map[string]*structs.DriverInfo) { m["docker"].Attributes["driver.docker.images"] = "a,b" }, true},
		{"driver gone", func(m map[string]*structs.DriverInfo) { delete(m, "docker") }, true},
		{"driver renamed", func(m map[string]*structs.DriverInfo) { m["raw_exec"] = m["docker"]; delete(m, "docker") }, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cur := healthy()
			tc.change(cur)
			if got := driversChanged(healthy(), cur); got != tc.want {
				t.Fatalf("driversChanged = %v, want %v", got, tc.want)
			}
		})
	}
}

// fpDriver is a driver whose fingerprint the test sets.
type fpDriver struct {
	drivers.Driver
	mu sync.Mutex
	fp drivers.Fingerprint
}

func (d *fpDriver) set(healthy bool, desc string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.fp = drivers.Fingerprint{Detected: true, Healthy: healthy, Description: desc}
}

func (d *fpDriver) Fingerprint(context.Context) (*drivers.Fingerprint, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	fp := d.fp
	return &fp, nil
}

// TestWatchDriversRegistersChanges: a kicked driver watch (a driver call
// failed) fingerprints at once and registers the node with the driver's
// new health; a register the servers refuse is tried again at the next
// fingerprint, and the node keeps what was last registered until then.
func TestWatchDriversRegistersChanges(t *testing.T) {
	var fail atomic.Bool
	var attempts atomic.Int64
	got := make(chan *structs.Node, 10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPut || r.URL.Path != "/v1/node/register" {
			http.NotFound(w, r)
			return
		}
		attempts.Add(1)
		if fail.Load() {
			http.Error(w, "no leader", http.StatusInternalServerError)
			return
		}
		var body structs.NodeRegisterBody
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		got <- body.Node
		_ = json.NewEncoder(w).Encode(&structs.NodeRegisterResponse{HeartbeatTTL: "10s"})
	}))
	defer srv.Close()
	cl, err := api.NewClient(api.Config{Address: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	d := &fpDriver{}
	d.set(true, "Docker Engine 20.10")
	c := &Client{config: &Config{Drivers: map[string]drivers.Driver{"docker": d}, FingerprintInterval: time.Hour},
		logger: hclog.NewNullLogger(), api: cl, fingerprintKick: make(chan struct{}, 1)}
	infos, _ := c.fingerprintDrivers(context.Background(), time.Second)
	c.setNode(&structs.Node{ObjectMeta: structs.ObjectMeta{ID: "n1", Name: "n1"}, PodCIDR: "10.42.3.0/24", Drivers: infos})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); c.watchDrivers(ctx) }()
	defer func() { cancel(); <-done }()

	wantRegister := func(healthy bool) {
		t.Helper()
		select {
		case n := <-got:
			if dd := n.Drivers["docker"]; dd == nil || dd.Healthy != healthy || n.PodCIDR != "10.42.3.0/24" {
				t.Fatalf("registered %+v (docker %+v), want docker healthy=%v and the node's pod CIDR", n, dd, healthy)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("no register of docker healthy=%v within 5s", healthy)
		}
	}
	d.set(false, "Docker Engine unreachable")
	c.kickFingerprint()
	wantRegister(false)
	testutil.WaitFor(t, 5*time.Second, func() (bool, error) {
		return !c.currentNode().Drivers["docker"].Healthy, errors.New("the node does not keep the registered drivers")
	})

	fail.Store(true)
	before := attempts.Load()
	d.set(true, "Docker Engine 20.10")
	c.kickFingerprint()
	testutil.WaitFor(t, 5*time.Second, func() (bool, error) {
		return attempts.Load() > before, errors.New("no register tried")
	})
	// The refused register leaves the node as it was registered.
	if c.currentNode().Drivers["docker"].Healthy {
		t.Fatal("a refused register changed the node's drivers")
	}
	fail.Store(false)
	c.kickFingerprint()
	wantRegister(true)
}

// hangingDriver answers its fingerprint only when its context ends (a
// Slurm whose controller cannot be reached).
type hangingDriver struct{ fpDriver }

func (d *hangingDriver) Fingerprint(ctx context.Context) (*drivers.Fingerprint, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

// TestFingerprintDoesNotWaitForASlowDriver: drivers are asked at once,
// and one that does not answer within the wait is reported pending,
// while the others' answers are kept.
func TestFingerprintDoesNotWaitForASlowDriver(t *testing.T) {
	fast := &fpDriver{}
	fast.set(true, "healthy")
	c := &Client{config: &Config{Drivers: map[string]drivers.Driver{"exec": fast, "gpu-slurm": &hangingDriver{}}},
		logger: hclog.NewNullLogger()}
	start := time.Now()
	infos, pending := c.fingerprintDrivers(context.Background(), 300*time.Millisecond)
	if took := time.Since(start); took > 3*time.Second {
		t.Fatalf("fingerprint took %s with a wait of 300ms", took)
	}
	if !pending || !infos["exec"].Healthy || infos["gpu-slurm"] == nil || infos["gpu-slurm"].Healthy ||
		!strings.Contains(infos["gpu-slurm"].HealthDescription, "no answer within 300ms") {
		t.Fatalf("pending %v, exec %+v, gpu-slurm %+v", pending, infos["exec"], infos["gpu-slurm"])
	}
	delete(c.config.Drivers, "gpu-slurm")
	if infos, pending = c.fingerprintDrivers(context.Background(), time.Second); pending {
		t.Fatalf("without a slow driver: pending %v, %v", pending, infos)
	}
}
