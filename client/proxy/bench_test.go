package proxy

import (
	"fmt"
	"testing"

	"github.com/mk-orchestrator/mk/structs"
)

// fixture is n services with one port and perService ready endpoints.
func fixture(n, perService int) ([]*structs.Service, []*structs.Endpoints) {
	var svcs []*structs.Service
	var all []*structs.Endpoints
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("svc-%05d", i)
		s := svc(name, fmt.Sprintf("10.96.%d.%d", (i+1)>>8, (i+1)&255), tcpPort("http", 80, 8080))
		e := eps(name)
		for j := 0; j < perService; j++ {
			k := i*perService + j + 1
			e.Endpoints = append(e.Endpoints, ep(fmt.Sprintf("%s-%d", name, j), fmt.Sprintf("10.42.%d.%d", k>>8, k&255), true, nil))
		}
		svcs, all = append(svcs, s), append(all, e)
	}
	return svcs, all
}

func BenchmarkCompute1000x10(b *testing.B) {
	svcs, eps := fixture(1000, 10)
	for b.Loop() {
		Compute(svcs, eps, testNode)
	}
}

func BenchmarkRenderIPTables1000x10(b *testing.B) {
	svcs, eps := fixture(1000, 10)
	rs := Compute(svcs, eps, testNode)
	var buf []byte
	for b.Loop() {
		_, buf = renderIPTables(rs, buf, nil)
	}
}

func BenchmarkRenderNFTables1000x10(b *testing.B) {
	svcs, eps := fixture(1000, 10)
	rs := Compute(svcs, eps, testNode)
	var buf []byte
	for b.Loop() {
		_, buf = renderNFTables(rs, buf, nil, nil)
	}
}
