package ingress

import (
	"reflect"
	"strings"
	"testing"

	"github.com/mk-orchestrator/mk/structs"
)

// shop is the route table of the tests: host shop.local with "/", "/a"
// and "/a/deep" (stripped), an ingress without host for "/any", and an
// older ingress of another job that also claims shop.local "/a".
func shop() ([]*structs.Ingress, []*structs.Service, []*structs.Endpoints) {
	ing := func(id string, create uint64, host string, rules ...*structs.IngressPath) *structs.Ingress {
		return &structs.Ingress{ObjectMeta: structs.ObjectMeta{ID: id, Name: id, Namespace: "default", CreateIndex: create}, Host: host, Rules: rules}
	}
	ingresses := []*structs.Ingress{
		ing("shop-web", 20, "Shop.Local",
			&structs.IngressPath{Path: "/", Service: "web", Port: 80},
			&structs.IngressPath{Path: "/a", Service: "a", Port: 8080},
			&structs.IngressPath{Path: "/a/deep/", Service: "deep", Port: 9000, StripPrefix: true}),
		ing("catchall", 30, "", &structs.IngressPath{Path: "/any", Service: "web", Port: 80}),
		ing("older", 10, "shop.local", &structs.IngressPath{Path: "/a", Service: "b", Port: 8080}),
		ing("broken", 40, "broken.local",
			&structs.IngressPath{Path: "/nosvc", Service: "nosuch", Port: 80},
			&structs.IngressPath{Path: "/noport", Service: "web", Port: 81},
			&structs.IngressPath{Path: "/down", Service: "down", Port: 80}),
	}
	svc := func(name string, port, target int) *structs.Service {
		return &structs.Service{ObjectMeta: structs.ObjectMeta{ID: name, Name: name, Namespace: "default"},
			Ports: []*structs.ServicePort{{Name: "http", Port: port, TargetPort: target}}}
	}
	services := []*structs.Service{svc("web", 80, 80), svc("a", 8080, 8080), svc("b", 8080, 8080), svc("deep", 9000, 9000), svc("down", 80, 80)}
	ep := func(name string, list ...*structs.Endpoint) *structs.Endpoints {
		return &structs.Endpoints{ObjectMeta: structs.ObjectMeta{ID: name, Name: name, Namespace: "default"}, Endpoints: list}
	}
	endpoints := []*structs.Endpoints{
		ep("web", &structs.Endpoint{IP: "10.42.0.2", Ready: true}, &structs.Endpoint{IP: "10.42.0.3", Ready: false},
			// A host-network pod: its node's address and its own port.
			&structs.Endpoint{IP: "192.0.2.7", Ports: map[string]int{"http": 24000}, Ready: true}),
		ep("b", &structs.Endpoint{IP: "10.42.1.2", Ready: true}),
		ep("deep", &structs.Endpoint{IP: "10.42.1.9", Ready: true}),
		ep("down", &structs.Endpoint{IP: "10.42.1.4", Ready: false}),
	}
	return ingresses, services, endpoints
}

func TestMatch(t *testing.T) {
	ingresses, services, endpoints := shop()
	tab := Build(ingresses, services, endpoints, 7)
	cases := []struct {
		host, path string
		want       string // the route's service, "" for none
		backends   []string
		reason     string
	}{
		{"shop.local", "/", "web", []string{"10.42.0.2:80", "192.0.2.7:24000"}, ""},
		{"SHOP.local:8080", "/index.html", "web", []string{"10.42.0.2:80", "192.0.2.7:24000"}, ""},
		{"shop.local.", "/a", "b", []string{"10.42.1.2:8080"}, ""},
		{"shop.local", "/a/x", "b", []string{"10.42.1.2:8080"}, ""},
		{"shop.local", "/ab", "web", nil, ""},
		{"shop.local", "/a/deep/x", "deep", []string{"10.42.1.9:9000"}, ""},
		{"shop.local", "/a/deep", "deep", []string{"10.42.1.9:9000"}, ""},
		{"shop.local", "/any", "web", nil, ""},
		{"other.local", "/any/thing", "web", nil, ""},
		{"other.local", "/", "", nil, ""},
		{"broken.local", "/nosvc", "nosuch", nil, "service default/nosuch does not exist"},
		{"broken.local", "/noport", "web", nil, "service default/web has no port 81"},
		{"broken.local", "/down/1", "down", nil, "service default/down has no ready endpoints"},
	}
	for _, c := range cases {
		r := tab.Match(c.host, c.path)
		got := ""
		if r != nil {
			got = r.Service
		}
		if got != c.want {
			t.Errorf("Match(%q, %q) = service %q, want %q", c.host, c.path, got, c.want)
			continue
		}
		if r == nil {
			continue
		}
		if c.backends != nil && !reflect.DeepEqual(r.Backends, c.backends) {
			t.Errorf("Match(%q, %q) backends %v, want %v", c.host, c.path, r.Backends, c.backends)
		}
		if r.Reason != c.reason {
			t.Errorf("Match(%q, %q) reason %q, want %q", c.host, c.path, r.Reason, c.reason)
		}
	}
	if got := tab.Hosts(); !reflect.DeepEqual(got, []string{"broken.local", "shop.local"}) {
		t.Errorf("Hosts() = %v", got)
	}
	if len(tab.Conflicts) != 1 || !strings.Contains(tab.Conflicts[0], `ingress default/shop-web: host "shop.local" path "/a" is already routed by ingress default/older`) {
		t.Errorf("conflicts %q, want the newer ingress's /a", tab.Conflicts)
	}
}

func TestForwardPath(t *testing.T) {
	cases := []struct {
		prefix string
		strip  bool
		in     string
		want   string
	}{
		{"/a", false, "/a/x", "/a/x"},
		{"/a", true, "/a/x", "/x"},
		{"/a", true, "/a", "/"},
		{"/a/", true, "/a/", "/"},
		{"/a/", true, "/a/x/y", "/x/y"},
		{"/", true, "/x", "/x"},
	}
	for _, c := range cases {
		r := &Route{Path: c.prefix, StripPrefix: c.strip}
		if got := r.forwardPath(c.in); got != c.want {
			t.Errorf("prefix %q strip %v: %q -> %q, want %q", c.prefix, c.strip, c.in, got, c.want)
		}
	}
}

func TestPickRoundRobin(t *testing.T) {
	r := &Route{Backends: []string{"a", "b", "c"}}
	seen := map[string]int{}
	for i := 0; i < 30; i++ {
		tries := r.pick(maxTries)
		if len(tries) != 3 || tries[0] == tries[1] || tries[1] == tries[2] {
			t.Fatalf("pick = %v, want three distinct backends", tries)
		}
		seen[tries[0]]++
	}
	if !reflect.DeepEqual(seen, map[string]int{"a": 10, "b": 10, "c": 10}) {
		t.Errorf("first choices %v, want each backend in turn", seen)
	}
}
