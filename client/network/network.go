// Package network is a client's pod network (DESIGN §9): a bridge per
// node holding the pod gateway (the first address of the node's pod
// CIDR), a network namespace per pod joined to the bridge by a veth pair,
// addresses from a node-local IPAM persisted in the client's state,
// host-gw routes to the other nodes' pod CIDRs, masquerade of pod traffic
// that leaves the pod CIDR pool, DNAT of pods' host ports, and a
// resolv.conf per pod. It is independent of the drivers: a driver gets a
// pod's namespace path (and resolv.conf) and runs the pod's tasks in it.
//
// What mk makes, and how it finds it again after a restart (kill -9
// included) without touching anything else:
//
//   - the bridge Config.Bridge (mk0), with the gateway address;
//   - one namespace per pod, pinned by a bind mount at
//     <StateDir>/<pod ID> (under the client's data dir, so clients that
//     share a host's network namespace in tests never see each other's);
//   - one veth pair per pod: "mkv" and 10 hex digits of a hash of the pod
//     ID on the host (IFNAMSIZ allows 15), "eth0" in the pod;
//   - routes with the routing protocol RouteProtocol (109, "mk") in the
//     main table: only those are ever changed or removed;
//   - the iptables chains MK-POD-MASQ, MK-POD-FORWARD, MK-HOSTPORTS and
//     MK-HOSTPORTS-MASQ and the jumps into them; each pod's host-port
//     rules carry a comment naming this node and the pod.
//
// Netlink work goes through handles opened in the namespace it is for, so
// no goroutine changes namespace for it; iptables and sysctls run where
// Config.HostNetNS says (the process's own namespace in production, a
// throwaway one in tests).
package network

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"

	hclog "github.com/hashicorp/go-hclog"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/mk-orchestrator/mk/structs"
)

// DefaultBridge is the name of the pod bridge.
const DefaultBridge = "mk0"

// RouteProtocol marks mk's routes (rtm_protocol; /etc/iproute2/rt_protos
// names none as 109).
const RouteProtocol netlink.RouteProtocol = 109

// vethPrefix starts the host ends of pods' veth pairs.
const vethPrefix = "mkv"

// Config configures a Manager.
type Config struct {
	// NodeID is this node's ID: SyncRoutes skips it, and it tags the
	// node's host-port rules.
	NodeID string
	// PodCIDR is the node's pod subnet (a /24 of the pool).
	PodCIDR string
	// PoolCIDR is the cluster's pod CIDR pool; "" for PodCIDR alone.
	PoolCIDR string
	// Bridge is the bridge's name; "" for DefaultBridge.
	Bridge string
	// StateDir holds the pods' namespace files (<data_dir>/netns).
	StateDir string
	// HostNetNS is the path of the namespace that is the node's network
	// ("" for the process's own); tests pass a throwaway one.
	HostNetNS string
	// Store persists IP leases (the client's state DB).
	Store  LeaseStore
	Logger hclog.Logger
}

// Manager is a node's pod network. Its methods are safe for concurrent
// use; they are serialised.
type Manager struct {
	cfg    Config
	subnet *net.IPNet
	pool   *net.IPNet
	ipam   *IPAM
	host   *netlink.Handle
	logger hclog.Logger

	mu sync.Mutex
}

// PodNetwork is a pod's network as its tasks' drivers need it.
type PodNetwork struct {
	PodID string
	// NetNSPath is the pod's network namespace (a pinned nsfs file).
	NetNSPath string
	// IP is the pod's address on eth0, in Subnet; Gateway its default
	// route and name server.
	IP      net.IP
	Gateway net.IP
	Subnet  *net.IPNet
	// HostVeth is the host end of the pod's veth pair.
	HostVeth string
	// ResolvConfPath is the pod's resolv.conf ("" when none was asked).
	ResolvConfPath string
}

// New checks cfg and opens a netlink handle in the host's namespace. It
// changes nothing: Setup does.
func New(cfg Config) (*Manager, error) {
	if cfg.Logger == nil {
		cfg.Logger = hclog.NewNullLogger()
	}
	if cfg.Bridge == "" {
		cfg.Bridge = DefaultBridge
	}
	if cfg.StateDir == "" || cfg.Store == nil {
		return nil, errors.New("pod network: a state directory and a lease store are needed")
	}
	_, subnet, err := net.ParseCIDR(cfg.PodCIDR)
	if err != nil {
		return nil, fmt.Errorf("pod network: node pod CIDR %q: %w", cfg.PodCIDR, err)
	}
	pool := subnet
	if cfg.PoolCIDR != "" {
		if _, pool, err = net.ParseCIDR(cfg.PoolCIDR); err != nil {
			return nil, fmt.Errorf("pod network: pod CIDR pool %q: %w", cfg.PoolCIDR, err)
		}
	}
	ipam, err := NewIPAM(subnet, cfg.Store)
	if err != nil {
		return nil, fmt.Errorf("pod network: %w", err)
	}
	m := &Manager{cfg: cfg, subnet: ipam.Subnet(), pool: pool, ipam: ipam, logger: cfg.Logger.Named("network")}
	if m.host, err = openHandle(cfg.HostNetNS); err != nil {
		return nil, fmt.Errorf("pod network: %w", err)
	}
	return m, nil
}

// openHandle opens a netlink handle in the namespace at path ("" for the
// process's own).
func openHandle(path string) (*netlink.Handle, error) {
	if path == "" {
		return netlink.NewHandle()
	}
	ns, err := netns.GetFromPath(path)
	if err != nil {
		return nil, fmt.Errorf("open network namespace %s: %w", path, err)
	}
	defer ns.Close()
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		return nil, fmt.Errorf("netlink in %s: %w", path, err)
	}
	return h, nil
}

// Close releases the manager's netlink handle; what it made stays.
func (m *Manager) Close() { m.host.Close() }

// Gateway is the pods' gateway: the bridge's address.
func (m *Manager) Gateway() net.IP { return m.ipam.Gateway() }

// Subnet is the node's pod subnet.
func (m *Manager) Subnet() *net.IPNet { return m.subnet }

// Pool is the cluster's pod CIDR pool (the node's subnet when the
// servers named none).
func (m *Manager) Pool() string { return m.pool.String() }

// Bridge is the bridge's name.
func (m *Manager) Bridge() string { return m.cfg.Bridge }

// Setup readies the node: the bridge with the gateway address, up; IP
// forwarding on; mk's iptables chains and the jumps into them. It is
// idempotent and leaves pods' networks alone.
func (m *Manager) Setup() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.ensureBridge(); err != nil {
		return fmt.Errorf("set up pod network: %w", err)
	}
	if err := m.setSysctls(); err != nil {
		return fmt.Errorf("set up pod network: %w", err)
	}
	if err := m.setupRules(); err != nil {
		return fmt.Errorf("set up pod network: %w", err)
	}
	m.logger.Info("pod network ready", "bridge", m.cfg.Bridge, "gateway", m.Gateway().String(), "subnet", m.subnet.String(), "pool", m.pool.String())
	return nil
}

// ensureBridge makes the bridge (with a fixed MAC address: a bridge
// otherwise takes the lowest of its ports', which changes as pods come
// and go, and pods would have to learn the gateway's again) and gives it
// the gateway address.
func (m *Manager) ensureBridge() error {
	br, err := m.host.LinkByName(m.cfg.Bridge)
	var notFound netlink.LinkNotFoundError
	switch {
	case errors.As(err, &notFound):
		la := netlink.NewLinkAttrs()
		la.Name = m.cfg.Bridge
		la.HardwareAddr = bridgeMAC(m.cfg.Bridge, m.subnet)
		if err := m.host.LinkAdd(&netlink.Bridge{LinkAttrs: la}); err != nil {
			return fmt.Errorf("create bridge %s: %w", m.cfg.Bridge, err)
		}
		if br, err = m.host.LinkByName(m.cfg.Bridge); err != nil {
			return fmt.Errorf("bridge %s: %w", m.cfg.Bridge, err)
		}
	case err != nil:
		return fmt.Errorf("bridge %s: %w", m.cfg.Bridge, err)
	case br.Type() != "bridge":
		return fmt.Errorf("%s is a %s, not a bridge", m.cfg.Bridge, br.Type())
	}
	gw := &netlink.Addr{IPNet: &net.IPNet{IP: m.Gateway(), Mask: m.subnet.Mask}}
	if err := m.host.AddrReplace(br, gw); err != nil {
		return fmt.Errorf("gateway address %s on %s: %w", gw.IPNet, m.cfg.Bridge, err)
	}
	if err := m.host.LinkSetUp(br); err != nil {
		return fmt.Errorf("bring %s up: %w", m.cfg.Bridge, err)
	}
	return nil
}

// bridgeMAC is a locally administered unicast address derived from the
// bridge's name and subnet.
func bridgeMAC(name string, subnet *net.IPNet) net.HardwareAddr {
	sum := sha256.Sum256([]byte(name + "/" + subnet.String()))
	mac := net.HardwareAddr(sum[:6])
	mac[0] = (mac[0] | 0x02) &^ 0x01
	return mac
}

// setSysctls turns IP forwarding on and, where br_netfilter is loaded,
// lets iptables see bridged traffic (the service proxy's DNAT of a
// same-node pod needs its replies to pass conntrack).
func (m *Manager) setSysctls() error {
	return inNetNS(m.cfg.HostNetNS, func() error {
		if err := os.WriteFile("/proc/sys/net/ipv4/ip_forward", []byte("1"), 0o644); err != nil {
			return fmt.Errorf("enable ip forwarding: %w", err)
		}
		const brNF = "/proc/sys/net/bridge/bridge-nf-call-iptables"
		if _, err := os.Stat(brNF); err != nil {
			m.logger.Warn("br_netfilter is not loaded: iptables does not see traffic bridged between pods")
			return nil
		}
		if err := os.WriteFile(brNF, []byte("1"), 0o644); err != nil {
			return fmt.Errorf("enable bridge-nf-call-iptables: %w", err)
		}
		return nil
	})
}

// vethName is the host end of a pod's veth pair.
func vethName(podID string) string {
	sum := sha256.Sum256([]byte(podID))
	return vethPrefix + hex.EncodeToString(sum[:5])
}

// nsPath is where a pod's namespace is pinned.
func (m *Manager) nsPath(podID string) string { return filepath.Join(m.cfg.StateDir, podID) }

// validPodID refuses IDs that are not a plain file name.
func validPodID(id string) error {
	if id == "" || id != filepath.Base(id) || id == "." || id == ".." {
		return fmt.Errorf("pod ID %q is not a plain name", id)
	}
	return nil
}

// nodeRoute is the route to another node's pod subnet.
func nodeRoute(n *structs.Node) (*net.IPNet, net.IP, bool) {
	_, dst, err := net.ParseCIDR(n.PodCIDR)
	gw := net.ParseIP(n.NetworkAddress)
	if err != nil || gw == nil || gw.To4() == nil || dst.IP.To4() == nil {
		return nil, nil, false
	}
	return dst, gw.To4(), true
}
