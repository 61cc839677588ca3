package network

import (
	"errors"
	"fmt"
	"net"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/mk-orchestrator/mk/structs"
)

// errAddrNotAvail is what the kernel answers for an address to delete
// that is not there.
var errAddrNotAvail = unix.EADDRNOTAVAIL

// SyncRoutes makes the node's host-gw routes those of nodes: one per
// other ready node with a pod CIDR and a network address, its pod CIDR
// via its address (none to nodes that share this node's address: clients
// of one host in tests, whose subnets are all on the bridge). Only routes of RouteProtocol are changed or removed;
// one that another route (not mk's) already covers is an error and left
// alone. Level-triggered: pass every node each time.
func (m *Manager) SyncRoutes(nodes []*structs.Node) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.syncRoutes(nodes); err != nil {
		return fmt.Errorf("sync pod routes: %w", err)
	}
	return nil
}

func (m *Manager) syncRoutes(nodes []*structs.Node) error {
	self := ""
	for _, n := range nodes {
		if n != nil && n.ID == m.cfg.NodeID {
			self = n.NetworkAddress
		}
	}
	want := map[string]net.IP{}
	for _, n := range nodes {
		if n == nil || n.ID == m.cfg.NodeID || n.Status != structs.NodeStatusReady || (self != "" && n.NetworkAddress == self) {
			continue
		}
		dst, gw, ok := nodeRoute(n)
		if !ok || dst.Contains(m.subnet.IP) || m.subnet.Contains(dst.IP) {
			continue
		}
		want[dst.String()] = gw
	}
	cur, err := m.routes()
	if err != nil {
		return err
	}
	var errs []error
	for _, r := range cur {
		if r.Dst != nil && want[r.Dst.String()].Equal(r.Gw) {
			delete(want, r.Dst.String())
			continue
		}
		if err := m.host.RouteDel(&r); err != nil && !errors.Is(err, unix.ESRCH) {
			errs = append(errs, fmt.Errorf("delete route %s via %s: %w", r.Dst, r.Gw, err))
		}
	}
	for dst, gw := range want {
		_, ipnet, _ := net.ParseCIDR(dst)
		r := &netlink.Route{Dst: ipnet, Gw: gw, Protocol: RouteProtocol, Table: unix.RT_TABLE_MAIN}
		if err := m.host.RouteAdd(r); err != nil {
			errs = append(errs, fmt.Errorf("add route %s via %s: %w", dst, gw, err))
			continue
		}
		m.logger.Debug("added route to a node's pods", "dst", dst, "via", gw)
	}
	return errors.Join(errs...)
}

// routes lists mk's routes (RouteProtocol, main table).
func (m *Manager) routes() ([]netlink.Route, error) {
	filter := &netlink.Route{Protocol: RouteProtocol, Table: unix.RT_TABLE_MAIN}
	for i := 0; ; i++ {
		rs, err := m.host.RouteListFiltered(netlink.FAMILY_V4, filter, netlink.RT_FILTER_PROTOCOL|netlink.RT_FILTER_TABLE)
		if errors.Is(err, netlink.ErrDumpInterrupted) && i < 5 {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("list routes: %w", err)
		}
		return rs, nil
	}
}
