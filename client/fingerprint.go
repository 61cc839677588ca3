package client

import (
	"bufio"
	"context"
	"fmt"
	"maps"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	hclog "github.com/hashicorp/go-hclog"

	"github.com/mk-orchestrator/mk/drivers"
	"github.com/mk-orchestrator/mk/structs"
)

// defaultFingerprintInterval is how often drivers are fingerprinted again
// when the config sets no interval.
const defaultFingerprintInterval = 15 * time.Second

// driverFingerprintTimeout bounds one driver's fingerprint.
const driverFingerprintTimeout = 10 * time.Second

// fingerprint describes this node: CPU (MHz over all cores), memory, GPUs
// (nvidia-smi, when present), drivers that answer, and attributes for
// constraints.
func (c *Client) fingerprint(ctx context.Context) *structs.Node {
	cores := runtime.NumCPU()
	mhz := drivers.CoreMHz()
	hostname, _ := os.Hostname()
	node := &structs.Node{
		ObjectMeta:     structs.ObjectMeta{ID: c.nodeID, Name: c.config.NodeName},
		Datacenter:     c.config.Datacenter,
		Address:        c.config.Address,
		NetworkAddress: c.config.NetworkAddress,
		Resources:      &structs.NodeResources{CPU: cores * mhz, MemoryMB: memoryMB()},
		Drivers:        map[string]*structs.DriverInfo{},
		Attributes: map[string]string{
			"kernel.name":     runtime.GOOS,
			"cpu.arch":        runtime.GOARCH,
			"cpu.numcores":    strconv.Itoa(cores),
			"unique.hostname": hostname,
		},
	}
	node.Resources.MinDynamicPort, node.Resources.MaxDynamicPort = c.config.DynamicPorts[0], c.config.DynamicPorts[1]
	gpus := nvidiaGPUs(ctx)
	maps.Copy(node.Attributes, gpus.attributes())
	c.localGPUs = len(gpus)
	var pending bool
	node.Drivers, pending = c.fingerprintDrivers(ctx, initialFingerprintWait)
	if pending {
		c.kickFingerprint() // the driver watch reports them once they answer
	}
	node.Resources.GPUs = nodeGPUs(c.localGPUs, node.Drivers)
	return node
}

// initialFingerprintWait bounds how long a starting client waits for its
// drivers' first answers. One that has not answered by then (a Slurm
// whose controller cannot be reached, an Engine that hangs) is registered
// as not yet fingerprinted and the driver watch reports it once it
// answers: a slow driver does not hold up the node and its other pods.
const initialFingerprintWait = 2 * time.Second

// fingerprintDrivers asks every driver, all at once, whether it is
// detected and healthy (each within driverFingerprintTimeout), and waits
// at most wait for the answers; pending says whether one is missing.
func (c *Client) fingerprintDrivers(ctx context.Context, wait time.Duration) (infos map[string]*structs.DriverInfo, pending bool) {
	type answer struct {
		name string
		info *structs.DriverInfo
	}
	answers := make(chan answer, len(c.config.Drivers)) // late answers never block
	for name, d := range c.config.Drivers {
		go func() {
			fctx, cancel := context.WithTimeout(ctx, driverFingerprintTimeout)
			defer cancel()
			fp, err := d.Fingerprint(fctx)
			info := &structs.DriverInfo{}
			if err != nil {
				info.HealthDescription = err.Error()
			} else {
				info.Detected, info.Healthy, info.HealthDescription, info.Attributes = fp.Detected, fp.Healthy, fp.Description, fp.Attributes
			}
			answers <- answer{name, info}
		}()
	}
	infos = make(map[string]*structs.DriverInfo, len(c.config.Drivers))
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for len(infos) < len(c.config.Drivers) {
		select {
		case a := <-answers:
			infos[a.name] = a.info
		case <-timer.C:
			for name := range c.config.Drivers {
				if infos[name] == nil {
					infos[name] = &structs.DriverInfo{HealthDescription: fmt.Sprintf("fingerprint: no answer within %s yet", wait)}
				}
			}
			return infos, true
		}
	}
	return infos, false
}

// watchDrivers fingerprints the drivers again every FingerprintInterval,
// and at once when kicked (kickFingerprint: a driver call failed, which
// may be the driver's health changing). When one changed (health, description or attributes: an Engine that
// stopped or came back, an image imported), the node is registered again
// with its new drivers, which the servers merge with what they own
// (eligibility, drain, pod CIDR); the scheduler then places only on
// healthy drivers. A failed update is retried at the next tick.
func (c *Client) watchDrivers(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(c.config.FingerprintInterval):
		case <-c.fingerprintKick:
		}
		infos, _ := c.fingerprintDrivers(ctx, driverFingerprintTimeout+time.Second)
		if ctx.Err() != nil {
			return
		}
		node := c.currentNode()
		if !driversChanged(node.Drivers, infos) {
			continue
		}
		logDriverChanges(c.logger, node.Drivers, infos)
		node.Drivers = infos
		if node.Resources != nil {
			node.Resources.GPUs = nodeGPUs(c.localGPUs, infos)
		}
		if _, err := c.api.RegisterNode(ctx, node); err != nil {
			c.logger.Warn("update the node's drivers failed; retrying at the next fingerprint", "error", err)
			continue
		}
		c.nodeMu.Lock()
		c.node.Drivers = infos
		if c.node.Resources != nil && node.Resources != nil {
			c.node.Resources.GPUs = node.Resources.GPUs
		}
		c.nodeMu.Unlock()
	}
}

// kickFingerprint has the driver watch fingerprint the drivers now.
func (c *Client) kickFingerprint() {
	select {
	case c.fingerprintKick <- struct{}{}:
	default:
	}
}

// currentNode is a copy of the node as last registered.
func (c *Client) currentNode() *structs.Node {
	c.nodeMu.Lock()
	defer c.nodeMu.Unlock()
	return structs.Copy(c.node)
}

func (c *Client) setNode(n *structs.Node) {
	c.nodeMu.Lock()
	defer c.nodeMu.Unlock()
	c.node = n
	for name, info := range n.Drivers {
		c.logger.Info("driver fingerprinted", "driver", name, "healthy", info.Healthy, "description", info.HealthDescription)
	}
}

// driversChanged reports whether two fingerprints of the drivers differ.
func driversChanged(old, cur map[string]*structs.DriverInfo) bool {
	if len(old) != len(cur) {
		return true
	}
	for name, a := range old {
		b, ok := cur[name]
		if !ok || a.Detected != b.Detected || a.Healthy != b.Healthy ||
			a.HealthDescription != b.HealthDescription || !maps.Equal(a.Attributes, b.Attributes) {
			return true
		}
	}
	return false
}

// logDriverChanges logs each driver whose health changed.
func logDriverChanges(logger hclog.Logger, old, cur map[string]*structs.DriverInfo) {
	for name, b := range cur {
		a := old[name]
		if a == nil || a.Healthy != b.Healthy || a.Detected != b.Detected {
			logger.Info("driver health changed", "driver", name, "detected", b.Detected, "healthy", b.Healthy,
				"description", b.HealthDescription)
		}
	}
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
