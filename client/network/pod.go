package network

import (
	"errors"
	"fmt"
	"net"
	"os"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/mk-orchestrator/mk/structs"
)

// PodRequest is what CreatePod needs of a pod.
type PodRequest struct {
	ID string
	// Namespace is the pod's mk namespace, first in its DNS search list.
	Namespace string
	// Ports are the pod's node ports, DNATed to the pod.
	Ports []*structs.AllocatedPort
	// ResolvConfPath is where the pod's resolv.conf is written ("" for
	// none): a file in the pod's directory.
	ResolvConfPath string
	// NetNSFrom is a network namespace that exists already (a docker
	// pause container's /proc/<pid>/ns/net): the pod's namespace is that
	// one, pinned at the pod's usual path, instead of a new one. The rest
	// (veth, address, routes, host ports, resolv.conf) is the same.
	NetNSFrom string
}

// CreatePod gives a pod its network: an address, a namespace with lo up
// and eth0 (the pod end of a veth pair whose host end is on the bridge)
// holding the address, a default route via the gateway, its host ports
// and its resolv.conf. For a pod that has a network (a restarted client
// recovering it) it returns that one, with the same address, and repairs
// what is missing. A new pod's network that fails half way is removed.
func (m *Manager) CreatePod(req *PodRequest) (*PodNetwork, error) {
	if err := validPodID(req.ID); err != nil {
		return nil, fmt.Errorf("create pod network: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	leased, err := m.ipam.Leased()
	if err != nil {
		return nil, fmt.Errorf("create pod network %s: %w", req.ID, err)
	}
	_, existed := leased[req.ID]
	pn, err := m.createPod(req)
	if err != nil {
		if !existed {
			if derr := m.destroyPod(req.ID); derr != nil {
				m.logger.Warn("remove half-made pod network", "pod", req.ID, "error", derr)
			}
		}
		return nil, fmt.Errorf("create pod network %s: %w", req.ID, err)
	}
	m.logger.Debug("pod network ready", "pod", req.ID, "ip", pn.IP.String(), "veth", pn.HostVeth, "netns", pn.NetNSPath)
	return pn, nil
}

func (m *Manager) createPod(req *PodRequest) (*PodNetwork, error) {
	ip, err := m.ipam.Allocate(req.ID)
	if err != nil {
		return nil, err
	}
	pn := &PodNetwork{PodID: req.ID, NetNSPath: m.nsPath(req.ID), IP: ip, Gateway: m.Gateway(),
		Subnet: m.subnet, HostVeth: vethName(req.ID)}
	if req.NetNSFrom != "" {
		err = adoptNetNS(req.NetNSFrom, pn.NetNSPath)
	} else {
		err = createNetNS(pn.NetNSPath)
	}
	if err != nil {
		return nil, err
	}
	if err := m.plumb(pn); err != nil {
		return nil, err
	}
	if err := m.addHostPorts(req.ID, ip, req.Ports); err != nil {
		return nil, err
	}
	if req.ResolvConfPath != "" {
		if err := writeResolvConf(req.ResolvConfPath, pn.Gateway, req.Namespace); err != nil {
			return nil, err
		}
		pn.ResolvConfPath = req.ResolvConfPath
	}
	return pn, nil
}

// plumb connects the pod's namespace to the bridge and configures it.
func (m *Manager) plumb(pn *PodNetwork) error {
	ns, err := netns.GetFromPath(pn.NetNSPath)
	if err != nil {
		return fmt.Errorf("open network namespace: %w", err)
	}
	defer ns.Close()
	pod, err := netlink.NewHandleAt(ns)
	if err != nil {
		return fmt.Errorf("netlink in the pod's namespace: %w", err)
	}
	defer pod.Close()
	br, err := m.host.LinkByName(m.cfg.Bridge)
	if err != nil {
		return fmt.Errorf("bridge %s: %w", m.cfg.Bridge, err)
	}
	hostEnd, err := m.ensureVeth(pod, ns, pn.HostVeth, br)
	if err != nil {
		return err
	}
	if err := m.host.LinkSetMaster(hostEnd, br); err != nil {
		return fmt.Errorf("attach %s to %s: %w", pn.HostVeth, m.cfg.Bridge, err)
	}
	// Hairpin: a pod's connection to a service (or host port) DNATed
	// back to the pod itself is, with br_netfilter, bridged out of the
	// port it came in by, which a bridge port only does in hairpin mode.
	if err := m.host.LinkSetHairpin(hostEnd, true); err != nil {
		return fmt.Errorf("hairpin mode on %s: %w", pn.HostVeth, err)
	}
	if err := m.host.LinkSetUp(hostEnd); err != nil {
		return fmt.Errorf("bring %s up: %w", pn.HostVeth, err)
	}
	if err := configurePod(pod, pn); err != nil {
		return err
	}
	return m.learnPodMAC(pod, pn, br)
}

// learnPodMAC points the host's neighbour entry for the pod's address at
// the pod's eth0. The bridge outlives its pods, so an address given out
// again would otherwise keep the last owner's MAC until the kernel's
// stale-entry probe replaced it, seconds during which the host's packets
// to the pod (health checks, proxied connections) are lost.
func (m *Manager) learnPodMAC(pod *netlink.Handle, pn *PodNetwork, br netlink.Link) error {
	eth0, err := pod.LinkByName("eth0")
	if err != nil {
		return fmt.Errorf("eth0: %w", err)
	}
	neigh := &netlink.Neigh{
		LinkIndex:    br.Attrs().Index,
		Family:       netlink.FAMILY_V4,
		State:        netlink.NUD_REACHABLE,
		IP:           pn.IP,
		HardwareAddr: eth0.Attrs().HardwareAddr,
	}
	if err := m.host.NeighSet(neigh); err != nil {
		return fmt.Errorf("neighbour entry %s on %s: %w", pn.IP, m.cfg.Bridge, err)
	}
	return nil
}

// ensureVeth returns the host end of the pod's veth pair, making the pair
// (its pod end eth0, made in the pod's namespace) unless both ends are
// there.
func (m *Manager) ensureVeth(pod *netlink.Handle, ns netns.NsHandle, name string, br netlink.Link) (netlink.Link, error) {
	hostEnd, herr := m.host.LinkByName(name)
	_, perr := pod.LinkByName("eth0")
	if herr == nil && perr == nil {
		return hostEnd, nil
	}
	// Half a pair (a crash while it was made): start again.
	if herr == nil {
		_ = m.host.LinkDel(hostEnd)
	}
	if eth0, err := pod.LinkByName("eth0"); err == nil {
		_ = pod.LinkDel(eth0)
	}
	la := netlink.NewLinkAttrs()
	la.Name, la.MasterIndex = name, br.Attrs().Index
	veth := &netlink.Veth{LinkAttrs: la, PeerName: "eth0", PeerNamespace: netlink.NsFd(int(ns))}
	if err := m.host.LinkAdd(veth); err != nil {
		return nil, fmt.Errorf("create veth pair %s/eth0: %w", name, err)
	}
	hostEnd, err := m.host.LinkByName(name)
	if err != nil {
		return nil, fmt.Errorf("veth %s: %w", name, err)
	}
	return hostEnd, nil
}

// configurePod brings lo and eth0 up in the pod's namespace, gives eth0
// the pod's address (and no other) and routes by default via the gateway.
func configurePod(pod *netlink.Handle, pn *PodNetwork) error {
	lo, err := pod.LinkByName("lo")
	if err == nil {
		err = pod.LinkSetUp(lo)
	}
	if err != nil {
		return fmt.Errorf("bring lo up: %w", err)
	}
	eth0, err := pod.LinkByName("eth0")
	if err != nil {
		return fmt.Errorf("eth0: %w", err)
	}
	want := &net.IPNet{IP: pn.IP, Mask: pn.Subnet.Mask}
	addrs, err := pod.AddrList(eth0, netlink.FAMILY_V4)
	if err != nil {
		return fmt.Errorf("list eth0 addresses: %w", err)
	}
	for _, a := range addrs {
		if a.IPNet.String() != want.String() {
			if err := pod.AddrDel(eth0, &a); err != nil {
				return fmt.Errorf("remove old address %s: %w", a.IPNet, err)
			}
		}
	}
	if err := pod.AddrReplace(eth0, &netlink.Addr{IPNet: want}); err != nil {
		return fmt.Errorf("address %s on eth0: %w", want, err)
	}
	if err := pod.LinkSetUp(eth0); err != nil {
		return fmt.Errorf("bring eth0 up: %w", err)
	}
	def := &netlink.Route{LinkIndex: eth0.Attrs().Index, Gw: pn.Gateway, Dst: nil}
	if err := pod.RouteReplace(def); err != nil {
		return fmt.Errorf("default route via %s: %w", pn.Gateway, err)
	}
	return nil
}

// DestroyPod removes a pod's network: its host-port rules, its veth pair,
// its namespace, and releases its address. What is already gone is not
// an error.
func (m *Manager) DestroyPod(podID string) error {
	if err := validPodID(podID); err != nil {
		return fmt.Errorf("destroy pod network: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.destroyPod(podID); err != nil {
		return fmt.Errorf("destroy pod network %s: %w", podID, err)
	}
	return nil
}

func (m *Manager) destroyPod(podID string) error {
	if err := m.removeHostPorts(func(id string) bool { return id == podID }); err != nil {
		return err
	}
	if err := m.deleteLink(vethName(podID)); err != nil {
		return err
	}
	if err := removeNetNS(m.nsPath(podID)); err != nil {
		return err
	}
	return m.ipam.Release(podID)
}

// deleteLink deletes a host link by name; one that is not there is not
// an error.
func (m *Manager) deleteLink(name string) error {
	l, err := m.host.LinkByName(name)
	var notFound netlink.LinkNotFoundError
	if errors.As(err, &notFound) {
		return nil
	}
	if err == nil {
		err = m.host.LinkDel(l)
	}
	if err != nil {
		return fmt.Errorf("delete link %s: %w", name, err)
	}
	return nil
}

// podIDs are the pods this manager holds something of: a lease or a
// namespace file.
func (m *Manager) podIDs() (map[string]bool, error) {
	ids := map[string]bool{}
	leased, err := m.ipam.Leased()
	if err != nil {
		return nil, err
	}
	for id := range leased {
		ids[id] = true
	}
	entries, err := os.ReadDir(m.cfg.StateDir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("list network namespaces: %w", err)
	}
	for _, e := range entries {
		ids[e.Name()] = true
	}
	return ids, nil
}
