package network

import (
	"errors"
	"fmt"
	"net"

	"github.com/vishvananda/netlink"
)

// Reconcile adopts what a restarted client (kill -9 included) finds: the
// networks of live pods are kept as they are (CreatePod returns them,
// same address), everything of other pods this node made goes: leases,
// namespaces, veth pairs and host-port rules.
func (m *Manager) Reconcile(live map[string]bool) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	ids, err := m.podIDs()
	if err != nil {
		return fmt.Errorf("reconcile pod networks: %w", err)
	}
	var errs []error
	for id := range ids {
		if live[id] || validPodID(id) != nil {
			continue
		}
		m.logger.Info("removing the network of a pod that is gone", "pod", id)
		if err := m.destroyPod(id); err != nil {
			errs = append(errs, fmt.Errorf("pod %s: %w", id, err))
		}
	}
	// Rules whose lease and namespace are gone (a state dir wiped).
	if err := m.removeHostPorts(func(id string) bool { return !live[id] }); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("reconcile pod networks: %w", err)
	}
	return nil
}

// Teardown removes every pod network and everything of mk's on the node:
// mk's routes and, unless another client in this network namespace still
// holds an address on it, the bridge and mk's chains. For tests and dev
// agents; a client that stops for good.
func (m *Manager) Teardown() error {
	if err := m.Reconcile(nil); err != nil {
		return fmt.Errorf("tear down pod network: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.syncRoutes(nil); err != nil {
		return fmt.Errorf("tear down pod network: %w", err)
	}
	last, err := m.releaseBridge()
	if err != nil || !last {
		return err
	}
	if err := m.teardownRules(); err != nil {
		return fmt.Errorf("tear down pod network: %w", err)
	}
	return nil
}

// releaseBridge removes the gateway address from the bridge and then the
// bridge once it holds no other address, unless another client's pods
// are still on it (this client's are gone: they may share the gateway
// address). It reports whether it removed the bridge (or found none).
func (m *Manager) releaseBridge() (bool, error) {
	br, err := m.host.LinkByName(m.cfg.Bridge)
	var notFound netlink.LinkNotFoundError
	if errors.As(err, &notFound) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("bridge %s: %w", m.cfg.Bridge, err)
	}
	links, err := m.linkList()
	if err != nil {
		return false, err
	}
	for _, l := range links {
		if l.Attrs().MasterIndex == br.Attrs().Index {
			return false, nil // another client's pod
		}
	}
	gw := &netlink.Addr{IPNet: &net.IPNet{IP: m.Gateway(), Mask: m.subnet.Mask}}
	if err := m.host.AddrDel(br, gw); err != nil && !errors.Is(err, errAddrNotAvail) {
		return false, fmt.Errorf("remove gateway address from %s: %w", m.cfg.Bridge, err)
	}
	addrs, err := m.host.AddrList(br, netlink.FAMILY_V4)
	if err != nil {
		return false, fmt.Errorf("list %s addresses: %w", m.cfg.Bridge, err)
	}
	if len(addrs) > 0 {
		return false, nil
	}
	if err := m.host.LinkDel(br); err != nil {
		return false, fmt.Errorf("delete bridge %s: %w", m.cfg.Bridge, err)
	}
	return true, nil
}

// linkList lists the host's links, again when a dump was interrupted.
func (m *Manager) linkList() ([]netlink.Link, error) {
	for i := 0; ; i++ {
		links, err := m.host.LinkList()
		if errors.Is(err, netlink.ErrDumpInterrupted) && i < 5 {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("list links: %w", err)
		}
		return links, nil
	}
}
