// Package agent turns agent config files and flags into a running mk agent:
// today a server with its HTTP API; the client role joins it later.
package agent

import (
	"encoding/base64"
	"fmt"
	"net/netip"
	"os"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"
	"github.com/hashicorp/hcl/v2/hclsyntax"

	"github.com/mk-orchestrator/mk/jobspecs"
	"github.com/mk-orchestrator/mk/server"
	"github.com/mk-orchestrator/mk/structs"
)

// Config is the agent config file (DESIGN §5). Every field is optional in
// a file; Merge layers files and flags, later ones winning.
type Config struct {
	Name          string        `hcl:"name,optional"`
	DataDir       string        `hcl:"data_dir,optional"`
	BindAddr      string        `hcl:"bind_addr,optional"`
	AdvertiseAddr string        `hcl:"advertise_addr,optional"`
	Datacenter    string        `hcl:"datacenter,optional"`
	LogLevel      string        `hcl:"log_level,optional"`
	EnableDebug   bool          `hcl:"enable_debug,optional"`
	Ports         *Ports        `hcl:"ports,block"`
	Server        *ServerConfig `hcl:"server,block"`
	Client        *ClientConfig `hcl:"client,block"`
	RetryJoin     []string      `hcl:"retry_join,optional"`
	TLS           *TLSConfig    `hcl:"tls,block"`
	ACL           *ACLConfig    `hcl:"acl,block"`
}

// Ports are the agent's listening ports.
type Ports struct {
	HTTP int `hcl:"http,optional"`
	Raft int `hcl:"raft,optional"`
	Serf int `hcl:"serf,optional"`
}

// ServerConfig is the server block.
type ServerConfig struct {
	Enabled         *bool   `hcl:"enabled,optional"`
	BootstrapExpect int     `hcl:"bootstrap_expect,optional"`
	Encrypt         string  `hcl:"encrypt,optional"`
	RaftMultiplier  float64 `hcl:"raft_multiplier,optional"`
	// PodGCThreshold is how long stopped, terminal pods are kept before
	// the leader collects them (a Go duration, default 1h); PodGCKeep how
	// many of them each owner keeps before that (default 3).
	PodGCThreshold string `hcl:"pod_gc_threshold,optional"`
	PodGCKeep      *int   `hcl:"pod_gc_keep,optional"`
	// PodCIDRPool is the cluster's pool of pod /24s (default
	// 10.42.0.0/16); ServiceCIDR the range of ClusterIPs (default
	// 10.96.0.0/16).
	PodCIDRPool string `hcl:"pod_cidr_pool,optional"`
	ServiceCIDR string `hcl:"service_cidr,optional"`
	// HeartbeatTTL is how often clients heartbeat (a Go duration,
	// default 10s); a node silent for HeartbeatTTL+HeartbeatGrace
	// (default 10s) is marked down, or for HeartbeatGrace once its
	// gossip member failed. Short values are for tests.
	HeartbeatTTL   string `hcl:"heartbeat_ttl,optional"`
	HeartbeatGrace string `hcl:"heartbeat_grace,optional"`
	// EventBufferSize is how many events the event stream keeps in
	// memory (default 8192; config_events.go).
	EventBufferSize *int `hcl:"event_buffer_size,optional"`
	// AutoscaleInterval is how often the leader's autoscaler decides
	// each group's count (a Go duration, default 5s).
	AutoscaleInterval string `hcl:"autoscale_interval,optional"`
}

// ClientConfig is the client block. Its runtime arrives with the client
// role; the block is parsed and checked now so config files stay valid.
type ClientConfig struct {
	Enabled *bool           `hcl:"enabled,optional"`
	Servers []string        `hcl:"servers,optional"`
	Network *ClientNetwork  `hcl:"network,block"`
	Ingress *ClientIngress  `hcl:"ingress,block"`
	Drivers []*DriverConfig `hcl:"driver,block"`
	// MinDynamicPort and MaxDynamicPort bound the node ports the
	// scheduler gives dynamic ports on this node (default 20000-32000).
	MinDynamicPort int `hcl:"min_dynamic_port,optional"`
	MaxDynamicPort int `hcl:"max_dynamic_port,optional"`
	// FingerprintInterval is how often the client fingerprints its
	// drivers again (a Go duration, default 15s): a driver whose health
	// changed (the Docker Engine stopped or came back) updates the node.
	FingerprintInterval string `hcl:"fingerprint_interval,optional"`
	// StatsInterval is how often the client samples the resource use of
	// its pods with a scaling block for the autoscaler (a Go duration,
	// default 5s).
	StatsInterval string `hcl:"stats_interval,optional"`
}

// fingerprintInterval is client.fingerprint_interval (0: the default).
func (c *ClientConfig) fingerprintInterval() (time.Duration, error) {
	if c == nil || c.FingerprintInterval == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(c.FingerprintInterval)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("client.fingerprint_interval: %q is not a positive duration", c.FingerprintInterval)
	}
	return d, nil
}

// statsInterval is client.stats_interval (0: the default).
func (c *ClientConfig) statsInterval() (time.Duration, error) {
	if c == nil || c.StatsInterval == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(c.StatsInterval)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("client.stats_interval: %q is not a positive duration", c.StatsInterval)
	}
	return d, nil
}

// dynamicPorts is the node's dynamic port range as the client reports it
// (zeros for the default).
func (c *ClientConfig) dynamicPorts() [2]int {
	if c == nil {
		return [2]int{}
	}
	return [2]int{c.MinDynamicPort, c.MaxDynamicPort}
}

// checkPorts refuses a dynamic port range that is not one.
func (c *ClientConfig) checkPorts() error {
	if c == nil || c.MinDynamicPort == 0 && c.MaxDynamicPort == 0 {
		return nil
	}
	lo, hi := (&structs.NodeResources{MinDynamicPort: c.MinDynamicPort, MaxDynamicPort: c.MaxDynamicPort}).DynamicPortRange()
	if lo < 1 || hi > 65535 || lo > hi {
		return fmt.Errorf("client: min_dynamic_port %d and max_dynamic_port %d must be 1 <= min <= max <= 65535", lo, hi)
	}
	return nil
}

// ClientNetwork is client.network: what is per node of the pod network.
type ClientNetwork struct {
	PodCIDRPool string `hcl:"pod_cidr_pool,optional"`
	ServiceCIDR string `hcl:"service_cidr,optional"`
	// ProxyMode is the service proxy's backend: iptables (the default)
	// or nftables.
	ProxyMode string `hcl:"proxy_mode,optional"`
	// Interface and Address pick the node's network address, which other
	// nodes route its pods' subnet to: Address, else Interface's first
	// IPv4 address, else bind_addr's, else the default route's.
	Interface string `hcl:"interface,optional"`
	Address   string `hcl:"address,optional"`
	// DNSUpstreams are the resolvers (IP or IP:port, port 53 by default)
	// the node DNS forwards names outside the cluster domain to; unset,
	// the nameservers of the host's /etc/resolv.conf.
	DNSUpstreams []string `hcl:"dns_upstreams,optional"`
}

// ClientIngress is client.ingress: the node's HTTP ingress proxy, which
// routes the cluster's ingress rules. A block turns it on (unless enabled
// = false); the dev agent turns it on.
type ClientIngress struct {
	Enabled *bool `hcl:"enabled,optional"`
	// Port is where it listens (default 8080); Address the address
	// (default: every address of the node).
	Port    int    `hcl:"port,optional"`
	Address string `hcl:"address,optional"`
}

// DriverConfig is a client.driver "name" block; options other than
// enabled belong to the driver.
type DriverConfig struct {
	Name    string   `hcl:"name,label"`
	Enabled *bool    `hcl:"enabled,optional"`
	Options hcl.Body `hcl:",remain"`
}

// TLSConfig is the tls block.
type TLSConfig struct {
	CAFile   string `hcl:"ca_file,optional"`
	CertFile string `hcl:"cert_file,optional"`
	KeyFile  string `hcl:"key_file,optional"`
}

// ACLConfig is the acl block.
type ACLConfig struct {
	Enabled bool `hcl:"enabled,optional"`
}

// ParseConfigFile reads one agent config file. Errors name file:line:col.
func ParseConfigFile(path string) (*Config, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return ParseConfig(path, src)
}

// ParseConfig parses agent config HCL.
func ParseConfig(filename string, src []byte) (*Config, error) {
	file, diags := hclsyntax.ParseConfig(src, filename, hcl.InitialPos)
	if diags.HasErrors() {
		return nil, diagError(diags)
	}
	var c Config
	if diags := gohcl.DecodeBody(file.Body, nil, &c); diags.HasErrors() {
		return nil, diagError(diags)
	}
	return &c, nil
}

// diagError renders HCL diagnostics one per line as file:line:col: text.
func diagError(diags hcl.Diagnostics) error {
	return jobspecs.DiagnosticErrors(diags).ErrOrNil()
}

// Merge layers o over c: every field o sets wins.
func (c *Config) Merge(o *Config) {
	setStr := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	setStr(&c.Name, o.Name)
	setStr(&c.DataDir, o.DataDir)
	setStr(&c.BindAddr, o.BindAddr)
	setStr(&c.AdvertiseAddr, o.AdvertiseAddr)
	setStr(&c.Datacenter, o.Datacenter)
	setStr(&c.LogLevel, o.LogLevel)
	c.EnableDebug = c.EnableDebug || o.EnableDebug
	if len(o.RetryJoin) > 0 {
		c.RetryJoin = o.RetryJoin
	}
	if o.Ports != nil {
		if c.Ports == nil {
			c.Ports = &Ports{}
		}
		if o.Ports.HTTP != 0 {
			c.Ports.HTTP = o.Ports.HTTP
		}
		if o.Ports.Raft != 0 {
			c.Ports.Raft = o.Ports.Raft
		}
		if o.Ports.Serf != 0 {
			c.Ports.Serf = o.Ports.Serf
		}
	}
	if o.Server != nil {
		if c.Server == nil {
			c.Server = &ServerConfig{}
		}
		if o.Server.Enabled != nil {
			c.Server.Enabled = o.Server.Enabled
		}
		if o.Server.BootstrapExpect != 0 {
			c.Server.BootstrapExpect = o.Server.BootstrapExpect
		}
		setStr(&c.Server.Encrypt, o.Server.Encrypt)
		if o.Server.RaftMultiplier != 0 {
			c.Server.RaftMultiplier = o.Server.RaftMultiplier
		}
		setStr(&c.Server.PodGCThreshold, o.Server.PodGCThreshold)
		setStr(&c.Server.PodCIDRPool, o.Server.PodCIDRPool)
		setStr(&c.Server.ServiceCIDR, o.Server.ServiceCIDR)
		setStr(&c.Server.HeartbeatTTL, o.Server.HeartbeatTTL)
		setStr(&c.Server.HeartbeatGrace, o.Server.HeartbeatGrace)
		setStr(&c.Server.AutoscaleInterval, o.Server.AutoscaleInterval)
		if o.Server.PodGCKeep != nil {
			c.Server.PodGCKeep = o.Server.PodGCKeep
		}
		if o.Server.EventBufferSize != nil {
			c.Server.EventBufferSize = o.Server.EventBufferSize
		}
	}
	if o.Client != nil {
		c.Client = o.Client
	}
	if o.TLS != nil {
		c.TLS = o.TLS
	}
	if o.ACL != nil {
		c.ACL = o.ACL
	}
}

// ServerEnabled reports whether the server role is on.
func (c *Config) ServerEnabled() bool {
	return c.Server != nil && c.Server.Enabled != nil && *c.Server.Enabled
}

// ClientEnabled reports whether the client role is on.
func (c *Config) ClientEnabled() bool {
	return c.Client != nil && c.Client.Enabled != nil && *c.Client.Enabled
}

// ServerConfig builds the server's config from the agent config.
func (c *Config) ToServerConfig() (*server.Config, error) {
	sc := server.DefaultConfig()
	sc.NodeName = c.Name
	sc.DataDir = c.DataDir
	if c.BindAddr != "" {
		sc.BindAddr = c.BindAddr
	}
	sc.AdvertiseAddr = c.AdvertiseAddr
	if c.Datacenter != "" {
		sc.Datacenter = c.Datacenter
	}
	if p := c.Ports; p != nil {
		if p.HTTP != 0 {
			sc.HTTPPort = p.HTTP
		}
		if p.Raft != 0 {
			sc.RaftPort = p.Raft
		}
		if p.Serf != 0 {
			sc.SerfPort = p.Serf
		}
	}
	sc.RetryJoin = c.RetryJoin
	if s := c.Server; s != nil {
		sc.BootstrapExpect = s.BootstrapExpect
		if s.RaftMultiplier != 0 {
			sc.RaftMultiplier = s.RaftMultiplier
		}
		if s.Encrypt != "" {
			key, err := base64.StdEncoding.DecodeString(s.Encrypt)
			if err != nil {
				return nil, fmt.Errorf("server.encrypt: not base64: %v", err)
			}
			if n := len(key); n != 16 && n != 24 && n != 32 {
				return nil, fmt.Errorf("server.encrypt: key is %d bytes, want 16, 24 or 32", n)
			}
			sc.EncryptKey = key
		}
		if err := s.applyGC(sc); err != nil {
			return nil, err
		}
		if err := s.applyEvents(sc); err != nil {
			return nil, err
		}
		if err := s.applyNetwork(sc); err != nil {
			return nil, err
		}
		if err := s.applyHeartbeat(sc); err != nil {
			return nil, err
		}
	}
	return sc, nil
}

// applyNetwork checks the cluster network ranges and sets them on sc.
func (s *ServerConfig) applyNetwork(sc *server.Config) error {
	if s.PodCIDRPool != "" {
		p, err := netip.ParsePrefix(s.PodCIDRPool)
		if err != nil || !p.Addr().Is4() || p.Bits() < 8 || p.Bits() > 24 {
			return fmt.Errorf("server.pod_cidr_pool: want an IPv4 range from /8 to /24 such as \"10.42.0.0/16\", got %q", s.PodCIDRPool)
		}
		sc.PodCIDRPool = p.Masked().String()
	}
	if s.ServiceCIDR != "" {
		p, err := netip.ParsePrefix(s.ServiceCIDR)
		if err != nil || !p.Addr().Is4() || p.Bits() < 8 || p.Bits() > 30 {
			return fmt.Errorf("server.service_cidr: want an IPv4 range from /8 to /30 such as \"10.96.0.0/16\", got %q", s.ServiceCIDR)
		}
		sc.ServiceCIDR = p.Masked().String()
	}
	if sc.PodCIDRPool != "" && sc.ServiceCIDR != "" && netip.MustParsePrefix(sc.PodCIDRPool).Overlaps(netip.MustParsePrefix(sc.ServiceCIDR)) {
		return fmt.Errorf("server.service_cidr %s overlaps server.pod_cidr_pool %s", sc.ServiceCIDR, sc.PodCIDRPool)
	}
	return nil
}

// applyHeartbeat checks the heartbeat keys (and autoscale_interval, a
// duration alike) and sets them on sc.
func (s *ServerConfig) applyHeartbeat(sc *server.Config) error {
	for _, k := range []struct {
		key, val string
		dst      *time.Duration
	}{{"heartbeat_ttl", s.HeartbeatTTL, &sc.HeartbeatTTL}, {"heartbeat_grace", s.HeartbeatGrace, &sc.HeartbeatGrace},
		{"autoscale_interval", s.AutoscaleInterval, &sc.AutoscaleInterval}} {
		if k.val == "" {
			continue
		}
		d, err := time.ParseDuration(k.val)
		if err != nil {
			return fmt.Errorf("server.%s: %v", k.key, err)
		}
		if d <= 0 {
			return fmt.Errorf("server.%s: must be > 0, got %s", k.key, k.val)
		}
		*k.dst = d
	}
	return nil
}

// applyGC checks the garbage collection keys and sets them on sc.
func (s *ServerConfig) applyGC(sc *server.Config) error {
	if s.PodGCThreshold != "" {
		d, err := time.ParseDuration(s.PodGCThreshold)
		if err != nil {
			return fmt.Errorf("server.pod_gc_threshold: %v", err)
		}
		if d <= 0 {
			return fmt.Errorf("server.pod_gc_threshold: must be > 0, got %s", s.PodGCThreshold)
		}
		sc.PodGCThreshold = d
	}
	if s.PodGCKeep != nil {
		if *s.PodGCKeep < 0 {
			return fmt.Errorf("server.pod_gc_keep: must be >= 0, got %d", *s.PodGCKeep)
		}
		sc.PodGCKeep = *s.PodGCKeep
	}
	return nil
}
