package client

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/mk-orchestrator/mk/structs"
)

// fingerprint describes this node: CPU (MHz over all cores), memory, GPUs
// (nvidia-smi, when present), drivers that answer, and attributes for
// constraints.
func (c *Client) fingerprint(ctx context.Context) *structs.Node {
	cores := runtime.NumCPU()
	mhz := cpuMHz()
	hostname, _ := os.Hostname()
	node := &structs.Node{
		ObjectMeta:     structs.ObjectMeta{ID: c.nodeID, Name: c.config.NodeName},
		Datacenter:     c.config.Datacenter,
		Address:        c.config.Address,
		NetworkAddress: c.config.NetworkAddress,
		Resources:      &structs.NodeResources{CPU: cores * mhz, MemoryMB: memoryMB(), GPUs: gpuCount(ctx)},
		Drivers:        map[string]*structs.DriverInfo{},
		Attributes: map[string]string{
			"kernel.name":     runtime.GOOS,
			"cpu.arch":        runtime.GOARCH,
			"cpu.numcores":    strconv.Itoa(cores),
			"unique.hostname": hostname,
		},
	}
	node.Resources.MinDynamicPort, node.Resources.MaxDynamicPort = c.config.DynamicPorts[0], c.config.DynamicPorts[1]
	for name, d := range c.config.Drivers {
		fctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		fp, err := d.Fingerprint(fctx)
		cancel()
		info := &structs.DriverInfo{}
		if err != nil {
			info.HealthDescription = err.Error()
		} else {
			info.Detected, info.Healthy, info.HealthDescription, info.Attributes = fp.Detected, fp.Healthy, fp.Description, fp.Attributes
		}
		node.Drivers[name] = info
		c.logger.Info("driver fingerprinted", "driver", name, "healthy", info.Healthy, "description", info.HealthDescription)
	}
	return node
}

// cpuMHz reads the clock of the first CPU from /proc/cpuinfo (1000 if
// unknown).
func cpuMHz() int {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return 1000
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "cpu MHz" {
			if mhz, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil && mhz > 0 {
				return int(mhz)
			}
		}
	}
	return 1000
}

// memoryMB reads MemTotal from /proc/meminfo.
func memoryMB() int {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 1024
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && fields[0] == "MemTotal:" {
			kb, _ := strconv.Atoi(fields[1])
			return kb / 1024
		}
	}
	return 1024
}

// gpuCount asks nvidia-smi how many GPUs there are (0 without it).
func gpuCount(ctx context.Context) int {
	path, err := exec.LookPath("nvidia-smi")
	if err != nil {
		return 0
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, path, "-L").Output()
	if err != nil {
		return 0
	}
	return strings.Count(string(out), "GPU ")
}
