package agent

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestClusterExamplesParse(t *testing.T) {
	files, err := filepath.Glob("../../docs/cluster/server-*.hcl")
	if err != nil || len(files) != 3 {
		t.Fatalf("want 3 example configs, got %v (%v)", files, err)
	}
	for _, f := range files {
		c, err := ParseConfigFile(f)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if err := c.Check(); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		sc, err := c.ToServerConfig()
		if err != nil {
			t.Fatal(err)
		}
		if sc.BootstrapExpect != 3 || len(sc.RetryJoin) != 3 || sc.HTTPPort == 0 {
			t.Fatalf("%s: server config %+v", f, sc)
		}
	}
}

func TestClientExampleParses(t *testing.T) {
	c, err := ParseConfigFile("../../docs/cluster/client-1.hcl")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Check(); err != nil {
		t.Fatal(err)
	}
	if c.ServerEnabled() || !c.ClientEnabled() || len(c.Client.Servers) != 3 {
		t.Fatalf("client config %+v", c.Client)
	}
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name, src, want string
	}{
		{"unknown attribute", "name = \"a\"\nbogus = 1\n", `agent.hcl:2:1: Unsupported argument; An argument named "bogus" is not expected here.`},
		{"unknown block", "nope {\n}\n", `agent.hcl:1:1: Unsupported block type; Blocks of type "nope" are not expected here.`},
		{"wrong type", "ports {\n  http = \"x\"\n}\n", `agent.hcl:2:11: Unsuitable value type; Unsuitable value: a number is required`},
		{"syntax", "name = \n", `agent.hcl:1:8: Invalid expression; Expected the start of an expression, but found an invalid expression token.`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseConfig("agent.hcl", []byte(tc.src))
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Fatalf("got %v\nwant %s", err, tc.want)
			}
		})
	}
}

func TestMergeLaterWins(t *testing.T) {
	a, _ := ParseConfig("a.hcl", []byte("name = \"a\"\nports {\n  http = 1\n  raft = 2\n}\nserver {\n  enabled = true\n  bootstrap_expect = 3\n}\n"))
	b, _ := ParseConfig("b.hcl", []byte("ports {\n  http = 9\n}\nserver {\n  enabled = false\n}\n"))
	a.Merge(b)
	if a.Name != "a" || a.Ports.HTTP != 9 || a.Ports.Raft != 2 || a.ServerEnabled() || a.Server.BootstrapExpect != 3 {
		t.Fatalf("merged %+v ports %+v server %+v", a, a.Ports, a.Server)
	}
}

func TestCheck(t *testing.T) {
	tests := []struct{ name, src, wantErr string }{
		{"no role", "name = \"a\"\n", "no role enabled"},
		{"acl", "name = \"a\"\nserver {\n  enabled = true\n}\nacl {\n  enabled = true\n}\n", "acl: not supported"},
		{"tls", "name = \"a\"\nserver {\n  enabled = true\n}\ntls {\n  ca_file = \"x\"\n}\n", "tls: not supported"},
		{"client only without servers", "name = \"a\"\nclient {\n  enabled = true\n}\n", "client.servers: "},
		{"client only", "name = \"a\"\nclient {\n  enabled = true\n  servers = [\"127.0.0.1:6646\"]\n}\n", ""},
		{"server and client", "name = \"a\"\nserver {\n  enabled = true\n}\nclient {\n  enabled = true\n}\n", ""},
		{"dynamic ports", "name = \"a\"\nserver {\n  enabled = true\n}\nclient {\n  enabled = true\n  min_dynamic_port = 40000\n  max_dynamic_port = 40100\n}\n", ""},
		{"dynamic ports above the default", "name = \"a\"\nserver {\n  enabled = true\n}\nclient {\n  enabled = true\n  min_dynamic_port = 33000\n}\n",
			"client: min_dynamic_port 33000 and max_dynamic_port 32000 must be 1 <= min <= max <= 65535"},
		{"dynamic ports past 65535", "name = \"a\"\nserver {\n  enabled = true\n}\nclient {\n  enabled = true\n  max_dynamic_port = 70000\n}\n",
			"max_dynamic_port 70000 must be"},
		{"fingerprint interval", "name = \"a\"\nserver {\n  enabled = true\n}\nclient {\n  enabled = true\n  fingerprint_interval = \"5s\"\n}\n", ""},
		{"fingerprint interval not a duration", "name = \"a\"\nserver {\n  enabled = true\n}\nclient {\n  enabled = true\n  fingerprint_interval = \"-1s\"\n}\n",
			"client.fingerprint_interval: \"-1s\" is not a positive duration"},
		{"stats interval", "name = \"a\"\nserver {\n  enabled = true\n}\nclient {\n  enabled = true\n  stats_interval = \"1s\"\n}\n", ""},
		{"stats interval not a duration", "name = \"a\"\nserver {\n  enabled = true\n}\nclient {\n  enabled = true\n  stats_interval = \"often\"\n}\n",
			"client.stats_interval: \"often\" is not a positive duration"},
		{"dns upstreams", "name = \"a\"\nserver {\n  enabled = true\n}\nclient {\n  enabled = true\n  network {\n    dns_upstreams = [\"10.0.0.2\", \"10.0.0.3:5353\"]\n  }\n}\n", ""},
		{"dns upstream not an address", "name = \"a\"\nserver {\n  enabled = true\n}\nclient {\n  enabled = true\n  network {\n    dns_upstreams = [\"dns.example\"]\n  }\n}\n",
			`client.network.dns_upstreams: "dns.example" is not an IP address or IP:port`},
		{"dns upstream bad port", "name = \"a\"\nserver {\n  enabled = true\n}\nclient {\n  enabled = true\n  network {\n    dns_upstreams = [\"10.0.0.2:0\"]\n  }\n}\n",
			`client.network.dns_upstreams: "10.0.0.2:0" is not`},
		{"ingress", "name = \"a\"\nserver {\n  enabled = true\n}\nclient {\n  enabled = true\n  ingress {\n    port = 80\n  }\n}\n", ""},
		{"ingress port", "name = \"a\"\nserver {\n  enabled = true\n}\nclient {\n  enabled = true\n  ingress {\n    port = 70000\n  }\n}\n",
			"client.ingress.port: must be between 1 and 65535, got 70000"},
		{"ingress address", "name = \"a\"\nserver {\n  enabled = true\n}\nclient {\n  enabled = true\n  ingress {\n    address = \"eth0\"\n  }\n}\n",
			`client.ingress.address: "eth0" is not an IP address`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseConfig("a.hcl", []byte(tc.src))
			if err != nil {
				t.Fatal(err)
			}
			err = c.Check()
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("got %v, want an error containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestServerGCConfig(t *testing.T) {
	tests := []struct {
		name, body string
		threshold  time.Duration
		keep       int
		wantErr    string
	}{
		{"defaults", "", time.Hour, 3, ""},
		{"set", "  pod_gc_threshold = \"10m\"\n  pod_gc_keep = 0\n", 10 * time.Minute, 0, ""},
		{"bad duration", "  pod_gc_threshold = \"soon\"\n", 0, 0, "server.pod_gc_threshold: "},
		{"zero threshold", "  pod_gc_threshold = \"0s\"\n", 0, 0, "server.pod_gc_threshold: must be > 0"},
		{"negative keep", "  pod_gc_keep = -1\n", 0, 0, "server.pod_gc_keep: must be >= 0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseConfig("a.hcl", []byte("name = \"a\"\ndata_dir = \"/tmp/x\"\nserver {\n  enabled = true\n"+tc.body+"}\n"))
			if err != nil {
				t.Fatal(err)
			}
			sc, err := c.ToServerConfig()
			switch {
			case tc.wantErr != "":
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got %v, want an error containing %q", err, tc.wantErr)
				}
			case err != nil:
				t.Fatal(err)
			case sc.PodGCThreshold != tc.threshold || sc.PodGCKeep != tc.keep:
				t.Fatalf("threshold %s keep %d, want %s %d", sc.PodGCThreshold, sc.PodGCKeep, tc.threshold, tc.keep)
			}
		})
	}
}

func TestServerHeartbeatConfig(t *testing.T) {
	tests := []struct {
		name, body string
		ttl, grace time.Duration
		wantErr    string
	}{
		{"defaults", "", 10 * time.Second, 10 * time.Second, ""},
		{"set", "  heartbeat_ttl = \"2s\"\n  heartbeat_grace = \"1s\"\n", 2 * time.Second, time.Second, ""},
		{"bad duration", "  heartbeat_ttl = \"soon\"\n", 0, 0, "server.heartbeat_ttl: "},
		{"zero grace", "  heartbeat_grace = \"0s\"\n", 0, 0, "server.heartbeat_grace: must be > 0"},
		{"autoscale interval", "  autoscale_interval = \"1s\"\n", 10 * time.Second, 10 * time.Second, ""},
		{"zero autoscale interval", "  autoscale_interval = \"0s\"\n", 0, 0, "server.autoscale_interval: must be > 0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseConfig("a.hcl", []byte("name = \"a\"\ndata_dir = \"/tmp/x\"\nserver {\n  enabled = true\n"+tc.body+"}\n"))
			if err != nil {
				t.Fatal(err)
			}
			sc, err := c.ToServerConfig()
			switch {
			case tc.wantErr != "":
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got %v, want an error containing %q", err, tc.wantErr)
				}
			case err != nil:
				t.Fatal(err)
			case sc.HeartbeatTTL != tc.ttl || sc.HeartbeatGrace != tc.grace:
				t.Fatalf("ttl %s grace %s, want %s %s", sc.HeartbeatTTL, sc.HeartbeatGrace, tc.ttl, tc.grace)
			}
		})
	}
}

func TestDNSUpstreams(t *testing.T) {
	c, err := ParseConfig("a.hcl", []byte("name = \"a\"\nclient {\n  enabled = true\n  servers = [\"127.0.0.1:6646\"]\n  network {\n    dns_upstreams = [\"10.0.0.2\", \"10.0.0.3:5353\"]\n  }\n}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Client.dnsUpstreams(); strings.Join(got, ",") != "10.0.0.2:53,10.0.0.3:5353" {
		t.Fatalf("dns upstreams %q", got)
	}
	if got := (&ClientConfig{}).dnsUpstreams(); got != nil {
		t.Fatalf("unset dns_upstreams gave %q, want nil (the host's resolv.conf)", got)
	}
}

func TestIngressAddr(t *testing.T) {
	off := false
	tests := []struct {
		name string
		c    *ClientConfig
		want string
	}{
		{"no client", nil, ""},
		{"no block", &ClientConfig{}, ""},
		{"a block turns it on, on 8080 of every address", &ClientConfig{Ingress: &ClientIngress{}}, ":8080"},
		{"port and address", &ClientConfig{Ingress: &ClientIngress{Port: 80, Address: "10.0.0.5"}}, "10.0.0.5:80"},
		{"disabled", &ClientConfig{Ingress: &ClientIngress{Enabled: &off, Port: 80}}, ""},
	}
	for _, tc := range tests {
		if got := tc.c.ingressAddr(); got != tc.want {
			t.Errorf("%s: ingressAddr() = %q, want %q", tc.name, got, tc.want)
		}
	}
}
