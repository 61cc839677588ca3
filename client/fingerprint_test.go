package client

import (
	"testing"

	"github.com/mk-orchestrator/mk/structs"
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
