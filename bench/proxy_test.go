//go:build bench

package bench

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/mk-orchestrator/mk/client/proxy"
)

// proxyRow is one line of bench/results/proxy.json.
type proxyRow struct {
	Mode                string  `json:"mode"`
	Services            int     `json:"services"`
	EndpointsPerService int     `json:"endpoints_per_service"`
	FullSyncMs          float64 `json:"full_sync_ms"`
	OneEndpointMs       float64 `json:"one_endpoint_ms"`
	HundredServicesMs   float64 `json:"hundred_services_ms"`
	// BareRestoreMs is iptables-restore / nft -f of the full sync's
	// transaction, written to a file, into a fresh namespace; Ratio is
	// FullSyncMs over it.
	BareRestoreMs float64 `json:"bare_restore_ms"`
	Ratio         float64 `json:"ratio"`
	// BareOneEndpointMs is the same program on the one-endpoint change's
	// transaction, applied after the bare restore: the floor of a partial
	// sync with this tool; OneEndpointRatio is OneEndpointMs over it.
	BareOneEndpointMs float64 `json:"bare_one_endpoint_ms"`
	// Fed is "watch": the proxy was fed by proxy.Watch from a real
	// server (rows without it were fed to Proxy.Update directly).
	Fed string `json:"fed,omitempty"`
	// FullWatchMs is the part of FullSyncMs until the watch had handed
	// over both lists. OneEndpointMs and HundredServicesMs count from the
	// endpoints controller's write; the FromReport fields from the pod
	// reports that caused it.
	FullWatchMs             float64 `json:"full_watch_ms,omitempty"`
	OneEndpointFromReportMs float64 `json:"one_endpoint_from_report_ms,omitempty"`
	HundredFromReportMs     float64 `json:"hundred_services_from_report_ms,omitempty"`
	// FullSyncProxyMs is the proxy's own part of FullSyncMs: its first
	// sync's computation and write (the sync's Duration), without the
	// watch before it.
	FullSyncProxyMs float64 `json:"full_sync_proxy_ms,omitempty"`
	// OneEndpointWatchMs is the part of OneEndpointMs until the watch
	// handed the changed endpoints over.
	OneEndpointWatchMs float64 `json:"one_endpoint_watch_ms,omitempty"`
	// OneEndpointSyncMs is the proxy's own part of OneEndpointMs: the
	// computation of the rules and their write (the sync's Duration).
	OneEndpointSyncMs float64 `json:"one_endpoint_sync_ms,omitempty"`
	// Load is the load average (1/5/15 min) at the start and end of the
	// row.
	Load             string  `json:"load,omitempty"`
	OneEndpointRatio float64 `json:"one_endpoint_ratio"`
	// The transaction sizes: the full sync's, the one-endpoint change's.
	FullBytes        int `json:"full_bytes"`
	OneEndpointBytes int `json:"one_endpoint_bytes"`
}

// TestBenchProxy times the service proxy's syncs on one node, fed the way
// a client feeds it: a real in-process server holds N services (one job
// of 10 pods each, on simulated nodes that report the pods running with
// an IP and a passing check), the endpoints controller makes their
// endpoints, and proxy.Watch with the client's own Source (blocking
// queries on /v1/services and /v1/endpoints) hands them to a Proxy that
// writes into a fresh network namespace. It measures the first full sync
// (from the start of the watch to the rules in the kernel), a change of
// one endpoint (one pod's check fails: from its report, and from the
// endpoints controller's Raft write, to the kernel) and of one endpoint
// in each of 100 services; and, in another fresh namespace, a bare
// restore of the full sync's rule file.
//
// MK_BENCH_PROXY_SIZES ("1000" by default; "1000,10000" adds the 10,000
// row, whose iptables full sync alone takes over 20 minutes on this
// machine) and MK_BENCH_PROXY_MODES ("iptables,nftables") pick the rows.
// Rows of bench/results/proxy.json that a run does not measure are kept.
func TestBenchProxy(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("needs root: it makes network namespaces")
	}
	sizes := []int{1000}
	if s := os.Getenv("MK_BENCH_PROXY_SIZES"); s != "" {
		sizes = nil
		for _, f := range strings.Split(s, ",") {
			n, err := strconv.Atoi(f)
			if err != nil {
				t.Fatalf("MK_BENCH_PROXY_SIZES: %v", err)
			}
			sizes = append(sizes, n)
		}
	}
	modes := []string{proxy.ModeIPTables, proxy.ModeNFTables}
	if s := os.Getenv("MK_BENCH_PROXY_MODES"); s != "" {
		modes = strings.Split(s, ",")
	}
	var rows []proxyRow
	var table [][]string
	for _, n := range sizes {
		f := newProxyCluster(t, n, 10)
		for round, mode := range modes {
			r := benchProxyRow(t, f, mode, round)
			rows = append(rows, r)
			table = append(table, []string{r.Mode, strconv.Itoa(r.Services), strconv.Itoa(r.EndpointsPerService),
				fmt.Sprintf("%.1f", r.FullSyncMs), fmt.Sprintf("%.1f", r.FullWatchMs), fmt.Sprintf("%.1f", r.FullSyncProxyMs),
				fmt.Sprintf("%.1f", r.OneEndpointMs), fmt.Sprintf("%.1f", r.OneEndpointWatchMs), fmt.Sprintf("%.1f", r.OneEndpointSyncMs), fmt.Sprintf("%.1f", r.OneEndpointFromReportMs),
				fmt.Sprintf("%.1f", r.HundredServicesMs), fmt.Sprintf("%.1f", r.HundredFromReportMs),
				fmt.Sprintf("%.1f", r.BareRestoreMs), fmt.Sprintf("%.2f", r.Ratio),
				fmt.Sprintf("%.1f", r.BareOneEndpointMs), fmt.Sprintf("%.2f", r.OneEndpointRatio),
				strconv.Itoa(r.FullBytes), strconv.Itoa(r.OneEndpointBytes), r.Load})
		}
		f.stop()
	}
	fmt.Println("\nservice proxy on one node, fed by proxy.Watch from a real server (times to the rules in the kernel)")
	printTable([]string{"mode", "services", "eps/svc", "full ms", "of which watch ms", "of which sync", "1 endpoint ms", "of which watch", "of which sync", "from report",
		"100 services ms", "from report", "bare restore ms", "mk/bare", "bare 1 endpoint ms", "mk/bare 1 endpoint",
		"full bytes", "1 endpoint bytes", "load 1/5/15"}, table)
	for _, r := range rows {
		verdict := func(ok bool) string {
			if ok {
				return "met"
			}
			return "MISSED"
		}
		if r.Services == 1000 {
			fmt.Printf("%s at 1,000: one endpoint <= 50 ms: %s; full sync within 1.5x bare restore: %s\n",
				r.Mode, verdict(r.OneEndpointMs <= 50), verdict(r.Ratio <= 1.5))
		}
		if r.Services == 10000 {
			fmt.Printf("%s at 10,000: full sync <= 2 s: %s\n", r.Mode, verdict(r.FullSyncMs <= 2000))
		}
	}
	writeResults(t, "proxy", mergeProxyRows(t, rows))
}

// mergeProxyRows keeps the rows of the results file this run did not
// measure (a mode and size), so an optional row is not lost.
func mergeProxyRows(t *testing.T, rows []proxyRow) []proxyRow {
	var old []proxyRow
	if buf, err := os.ReadFile(filepath.Join("results", "proxy.json")); err == nil {
		if err := json.Unmarshal(buf, &old); err != nil {
			t.Logf("results/proxy.json unreadable, rewritten: %v", err)
			old = nil
		}
	}
	measured := map[string]bool{}
	for _, r := range rows {
		measured[fmt.Sprint(r.Mode, r.Services)] = true
	}
	var out []proxyRow
	for _, r := range old {
		if !measured[fmt.Sprint(r.Mode, r.Services)] {
			out = append(out, r)
		}
	}
	out = append(out, rows...)
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Services != out[j].Services {
			return out[i].Services < out[j].Services
		}
		return out[i].Mode < out[j].Mode
	})
	return out
}
