package agent

import (
	"fmt"
	"net"
	"strconv"

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
	for _, u := range n.DNSUpstreams {
		if _, err := dnsUpstream(u); err != nil {
			return fmt.Errorf("client.network.dns_upstreams: %w", err)
		}
	}
	return nil
}

// DefaultIngressPort is where the ingress proxy listens unless
// client.ingress.port says otherwise.
const DefaultIngressPort = 8080

// checkIngress refuses a client.ingress block that cannot work.
func (c *ClientConfig) checkIngress() error {
	if c == nil || c.Ingress == nil {
		return nil
	}
	in := c.Ingress
	if in.Port != 0 && (in.Port < 1 || in.Port > 65535) {
		return fmt.Errorf("client.ingress.port: must be between 1 and 65535, got %d", in.Port)
	}
	if in.Address != "" && net.ParseIP(in.Address) == nil {
		return fmt.Errorf("client.ingress.address: %q is not an IP address", in.Address)
	}
	return nil
}

// ingressAddr is where the ingress proxy listens, "" when it is off.
func (c *ClientConfig) ingressAddr() string {
	if c == nil || c.Ingress == nil || (c.Ingress.Enabled != nil && !*c.Ingress.Enabled) {
		return ""
	}
	port := c.Ingress.Port
	if port == 0 {
		port = DefaultIngressPort
	}
	return net.JoinHostPort(c.Ingress.Address, strconv.Itoa(port))
}

// dnsUpstreams are the node DNS's resolvers as host:port pairs, nil to
// read the host's /etc/resolv.conf.
func (c *ClientConfig) dnsUpstreams() []string {
	if c == nil || c.Network == nil || len(c.Network.DNSUpstreams) == 0 {
		return nil
	}
	var out []string
	for _, u := range c.Network.DNSUpstreams {
		hp, _ := dnsUpstream(u) // checked by checkNetwork
		out = append(out, hp)
	}
	return out
}

// dnsUpstream is a resolver given as an IP address (port 53) or IP:port,
// as host:port.
func dnsUpstream(s string) (string, error) {
	if ip := net.ParseIP(s); ip != nil {
		return net.JoinHostPort(ip.String(), "53"), nil
	}
	host, port, err := net.SplitHostPort(s)
	if err == nil && net.ParseIP(host) == nil {
		err = fmt.Errorf("%q is not an IP address", host)
	}
	if err == nil {
		if n, perr := strconv.Atoi(port); perr != nil || n < 1 || n > 65535 {
			err = fmt.Errorf("port %q is not one", port)
		}
	}
	if err != nil {
		return "", fmt.Errorf("%q is not an IP address or IP:port: %v", s, err)
	}
	return net.JoinHostPort(host, port), nil
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
