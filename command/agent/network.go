package agent

import (
	"fmt"
	"net"

	"github.com/mk-orchestrator/mk/client/network"
)

// Service proxy backends (client.network.proxy_mode).
const (
	ProxyModeIPTables = "iptables"
	ProxyModeNFTables = "nftables"
)

// checkNetwork refuses a client.network block that cannot work.
func (c *ClientConfig) checkNetwork() error {
	if c == nil || c.Network == nil {
		return nil
	}
	n := c.Network
	switch n.ProxyMode {
	case "", ProxyModeIPTables, ProxyModeNFTables:
	default:
		return fmt.Errorf("client.network.proxy_mode: %q is not one of %s, %s", n.ProxyMode, ProxyModeIPTables, ProxyModeNFTables)
	}
	if n.Address != "" && net.ParseIP(n.Address).To4() == nil {
		return fmt.Errorf("client.network.address: %q is not an IPv4 address", n.Address)
	}
	return nil
}

// proxyMode is the service proxy's backend, iptables by default.
func (c *ClientConfig) proxyMode() string {
	if c == nil || c.Network == nil || c.Network.ProxyMode == "" {
		return ProxyModeIPTables
	}
	return c.Network.ProxyMode
}

// networkAddress is the node's network address: client.network.address,
// else the address of client.network.interface, else bind_addr when it
// names one address, else the default route's source address ("" when
// the node has none: its pods are reached from this node only).
func (c *Config) networkAddress() (string, error) {
	if c.Client != nil && c.Client.Network != nil {
		n := c.Client.Network
		if n.Address != "" {
			return n.Address, nil
		}
		if n.Interface != "" {
			addr, err := network.InterfaceAddress(n.Interface)
			if err != nil {
				return "", fmt.Errorf("client.network.interface: %w", err)
			}
			return addr, nil
		}
	}
	if ip := net.ParseIP(c.BindAddr); ip != nil && ip.To4() != nil && !ip.IsUnspecified() && !ip.IsLoopback() {
		return ip.String(), nil
	}
	// A node without a default route has no address for other nodes.
	addr, _ := network.DefaultRouteAddress()
	return addr, nil
}
