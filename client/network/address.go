package network

import (
	"fmt"
	"net"

	"github.com/vishvananda/netlink"
)

// InterfaceAddress is the first IPv4 address of the interface name: a
// node's network address when its config names the interface.
func InterfaceAddress(name string) (string, error) {
	l, err := netlink.LinkByName(name)
	if err != nil {
		return "", fmt.Errorf("interface %s: %w", name, err)
	}
	addrs, err := netlink.AddrList(l, netlink.FAMILY_V4)
	if err != nil {
		return "", fmt.Errorf("addresses of %s: %w", name, err)
	}
	for _, a := range addrs {
		if a.IP.IsGlobalUnicast() || a.IP.IsPrivate() {
			return a.IP.String(), nil
		}
	}
	return "", fmt.Errorf("interface %s has no IPv4 address", name)
}

// DefaultRouteAddress is the source address of the default route (the
// address of its interface): a node's network address by default.
func DefaultRouteAddress() (string, error) {
	routes, err := netlink.RouteGet(net.IPv4(1, 1, 1, 1))
	if err != nil {
		return "", fmt.Errorf("default route: %w", err)
	}
	for _, r := range routes {
		if r.Src != nil && !r.Src.IsLoopback() {
			return r.Src.String(), nil
		}
	}
	return "", fmt.Errorf("the default route has no source address")
}
