package exec

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	cgroups "github.com/containerd/cgroups/v3"
	"github.com/containerd/cgroups/v3/cgroup1"
	"github.com/containerd/cgroups/v3/cgroup2"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/mk-orchestrator/mk/structs"
)

// cgroupParent is the directory under which task cgroups are made: under
// the driver's own cgroup on v1 (so tasks stay within whatever limits the
// agent itself was given), at the root of the unified hierarchy on v2
// (where a cgroup with processes cannot delegate controllers to
// children).
const cgroupParent = "mk"

// v1Subsystems are the v1 controllers a task cgroup joins.
var v1Subsystems = []cgroup1.Name{cgroup1.Cpu, cgroup1.Cpuacct, cgroup1.Memory, cgroup1.Pids}

// cgroupState is what a task handle records to load the task's cgroup
// again after a restart.
type cgroupState struct {
	// Version is 1 or 2.
	Version int
	// Paths are the v1 cgroup paths by subsystem (relative to each
	// subsystem's mount).
	Paths map[string]string `json:",omitempty"`
	// Group is the v2 cgroup path relative to the unified mount.
	Group string `json:",omitempty"`
}

// cgroupStats is one reading of a task cgroup.
type cgroupStats struct {
	CPUNanos    uint64
	MemoryRSS   uint64
	MemoryUsage uint64
	OOMKills    uint64
}

// taskCgroup is a task's cgroup, v1 or v2.
type taskCgroup interface {
	// Add moves a process into the cgroup.
	Add(pid int) error
	// Stats reads the cgroup's counters.
	Stats() (*cgroupStats, error)
	// Pids lists the processes in the cgroup.
	Pids() ([]int, error)
	// Delete removes the cgroup; it must be empty.
	Delete() error
	// State is what to persist to load the cgroup again.
	State() cgroupState
}

// cgroupVersion returns 1 or 2 for the mounted hierarchy this driver uses,
// or 0 when cgroups are unavailable. Hybrid hosts use v1, where the
// controllers are.
func cgroupVersion() int {
	switch cgroups.Mode() {
	case cgroups.Unified:
		return 2
	case cgroups.Legacy, cgroups.Hybrid:
		return 1
	}
	return 0
}

// cgroupName turns a task ID ("pod/task") into one path element.
func cgroupName(taskID string) string {
	return strings.ReplaceAll(taskID, "/", "_")
}

// cpuShares converts MHz to v1 cpu.shares (the kernel's minimum is 2).
func cpuShares(mhz int) uint64 {
	if mhz < 2 {
		return 2
	}
	return uint64(mhz)
}

// newCgroup makes the cgroup of task taskID with res's limits.
func newCgroup(taskID string, res *structs.Resources) (taskCgroup, error) {
	switch cgroupVersion() {
	case 1:
		return newCgroupV1(taskID, res)
	case 2:
		return newCgroupV2(taskID, res)
	}
	return nil, errors.New("no cgroup hierarchy is mounted")
}

// loadCgroup loads a task cgroup recorded in st.
func loadCgroup(st cgroupState) (taskCgroup, error) {
	switch st.Version {
	case 1:
		return loadCgroupV1(st.Paths)
	case 2:
		return loadCgroupV2(st.Group)
	}
	return nil, fmt.Errorf("unknown cgroup version %d", st.Version)
}

// v1Hierarchy lists the mounted v1 subsystems this driver uses.
func v1Hierarchy() ([]cgroup1.Subsystem, error) {
	all, err := cgroup1.Default()
	if err != nil {
		return nil, err
	}
	var out []cgroup1.Subsystem
	for _, s := range all {
		if slices.Contains(v1Subsystems, s.Name()) {
			out = append(out, s)
		}
	}
	return out, nil
}

type cgroupV1 struct {
	cg    cgroup1.Cgroup
	paths map[string]string
}

func newCgroupV1(taskID string, res *structs.Resources) (taskCgroup, error) {
	nested := cgroup1.NestedPath(filepath.Join(cgroupParent, cgroupName(taskID)))
	paths := map[string]string{}
	for _, name := range v1Subsystems {
		p, err := nested(name)
		if err != nil {
			continue // not mounted
		}
		paths[string(name)] = p
	}
	if paths[string(cgroup1.Memory)] == "" {
		return nil, errors.New("the v1 memory controller is not mounted")
	}
	spec := &specs.LinuxResources{}
	if res != nil {
		shares := cpuShares(res.CPU)
		spec.CPU = &specs.LinuxCPU{Shares: &shares}
		if res.MemoryMB > 0 {
			limit := int64(res.MemoryMB) * 1024 * 1024
			spec.Memory = &specs.LinuxMemory{Limit: &limit}
		}
	}
	cg, err := cgroup1.New(staticPaths(paths), spec, cgroup1.WithHierarchy(v1Hierarchy))
	if err != nil {
		return nil, fmt.Errorf("create cgroup: %w", err)
	}
	return &cgroupV1{cg: cg, paths: paths}, nil
}

func loadCgroupV1(paths map[string]string) (taskCgroup, error) {
	cg, err := cgroup1.Load(staticPaths(paths), cgroup1.WithHierarchy(v1Hierarchy))
	if err != nil {
		return nil, fmt.Errorf("load cgroup: %w", err)
	}
	return &cgroupV1{cg: cg, paths: paths}, nil
}

// staticPaths is a cgroup1.Path over recorded per-subsystem paths.
func staticPaths(paths map[string]string) cgroup1.Path {
	return func(name cgroup1.Name) (string, error) {
		p, ok := paths[string(name)]
		if !ok {
			return "", cgroup1.ErrControllerNotActive
		}
		return p, nil
	}
}

func (c *cgroupV1) Add(pid int) error {
	if err := c.cg.AddProc(uint64(pid)); err != nil {
		return fmt.Errorf("add pid %d to cgroup: %w", pid, err)
	}
	return nil
}

func (c *cgroupV1) Stats() (*cgroupStats, error) {
	m, err := c.cg.Stat(cgroup1.IgnoreNotExist)
	if err != nil {
		return nil, fmt.Errorf("read cgroup stats: %w", err)
	}
	out := &cgroupStats{}
	if m.CPU != nil && m.CPU.Usage != nil {
		out.CPUNanos = m.CPU.Usage.Total
	}
	if m.Memory != nil {
		out.MemoryRSS = m.Memory.TotalRSS
		if m.Memory.Usage != nil {
			out.MemoryUsage = m.Memory.Usage.Usage
		}
	}
	if m.MemoryOomControl != nil {
		out.OOMKills = m.MemoryOomControl.OomKill
	}
	return out, nil
}

func (c *cgroupV1) Pids() ([]int, error) {
	procs, err := c.cg.Processes(cgroup1.Memory, true)
	if err != nil {
		return nil, fmt.Errorf("list cgroup processes: %w", err)
	}
	pids := make([]int, 0, len(procs))
	for _, p := range procs {
		pids = append(pids, p.Pid)
	}
	return pids, nil
}

func (c *cgroupV1) Delete() error {
	if err := c.cg.Delete(); err != nil {
		return fmt.Errorf("delete cgroup: %w", err)
	}
	return nil
}

func (c *cgroupV1) State() cgroupState { return cgroupState{Version: 1, Paths: c.paths} }

type cgroupV2 struct {
	m     *cgroup2.Manager
	group string
}

func newCgroupV2(taskID string, res *structs.Resources) (taskCgroup, error) {
	group := "/" + filepath.Join(cgroupParent, cgroupName(taskID))
	r := &cgroup2.Resources{}
	if res != nil {
		// cpu.weight is 1..10000 where v1's shares are 2..262144.
		weight := 1 + ((cpuShares(res.CPU)-2)*9999)/262142
		r.CPU = &cgroup2.CPU{Weight: &weight}
		if res.MemoryMB > 0 {
			limit := int64(res.MemoryMB) * 1024 * 1024
			r.Memory = &cgroup2.Memory{Max: &limit}
		}
	}
	m, err := cgroup2.NewManager("/sys/fs/cgroup", group, r)
	if err != nil {
		return nil, fmt.Errorf("create cgroup %s: %w", group, err)
	}
	return &cgroupV2{m: m, group: group}, nil
}

func loadCgroupV2(group string) (taskCgroup, error) {
	if _, err := os.Stat(filepath.Join("/sys/fs/cgroup", group)); err != nil {
		return nil, fmt.Errorf("load cgroup %s: %w", group, err)
	}
	m, err := cgroup2.Load(group)
	if err != nil {
		return nil, fmt.Errorf("load cgroup %s: %w", group, err)
	}
	return &cgroupV2{m: m, group: group}, nil
}

func (c *cgroupV2) Add(pid int) error {
	if err := c.m.AddProc(uint64(pid)); err != nil {
		return fmt.Errorf("add pid %d to cgroup: %w", pid, err)
	}
	return nil
}

func (c *cgroupV2) Stats() (*cgroupStats, error) {
	m, err := c.m.Stat()
	if err != nil {
		return nil, fmt.Errorf("read cgroup stats: %w", err)
	}
	out := &cgroupStats{}
	if m.CPU != nil {
		out.CPUNanos = m.CPU.UsageUsec * 1000
	}
	if m.Memory != nil {
		out.MemoryRSS = m.Memory.Anon
		out.MemoryUsage = m.Memory.Usage
	}
	if m.MemoryEvents != nil {
		out.OOMKills = m.MemoryEvents.OomKill
	}
	return out, nil
}

func (c *cgroupV2) Pids() ([]int, error) {
	procs, err := c.m.Procs(true)
	if err != nil {
		return nil, fmt.Errorf("list cgroup processes: %w", err)
	}
	pids := make([]int, 0, len(procs))
	for _, p := range procs {
		pids = append(pids, int(p))
	}
	return pids, nil
}

func (c *cgroupV2) Delete() error {
	if err := c.m.Delete(); err != nil {
		return fmt.Errorf("delete cgroup: %w", err)
	}
	return nil
}

func (c *cgroupV2) State() cgroupState { return cgroupState{Version: 2, Group: c.group} }
