package structs

import (
	"fmt"
	"strings"
)

// ServicePort is the port a service block gives its service: the pod
// port (`to`) of its port label, else the label's static port; 0 when
// the label names no port of the group (Validate reports that).
func (g *TaskGroup) ServicePort(s *ServiceSpec) int {
	p := g.Network.LookupPort(s.Port)
	if p == nil {
		return 0
	}
	if p.To != 0 {
		return p.To
	}
	return p.Static
}

// jobServicePort finds the service name among the job's service blocks:
// its port, and whether the job defines it.
func (j *Job) jobServicePort(name string) (int, bool) {
	for _, g := range j.Groups {
		if g == nil {
			continue
		}
		for _, s := range g.Services {
			if s != nil && s.Name == name {
				return g.ServicePort(s), true
			}
		}
	}
	return 0, false
}

// CheckHostName returns "" when s is a host name an ingress can match
// (lowercase DNS labels joined by dots, at most 253 characters, no port),
// else what is wrong with it.
func CheckHostName(s string) string {
	if len(s) > 253 {
		return fmt.Sprintf("must be at most 253 characters, got %d", len(s))
	}
	for _, label := range strings.Split(s, ".") {
		if len(label) > 63 || !isDNSLabel(label) {
			return fmt.Sprintf("must be a DNS name of lowercase letters, digits, '-' and '.' such as \"shop.local\", got %q", s)
		}
	}
	return ""
}

// validate checks an ingress block. A path's service may belong to
// another job of the namespace (the client routes to it once it exists);
// one of this job must be asked for on its own port.
func (in *IngressSpec) validate(v *validator, j *Job) {
	if in == nil {
		return
	}
	if in.Host != "" {
		if msg := CheckHostName(in.Host); msg != "" {
			v.add("ingress.host", "%s", msg)
		}
	}
	if len(in.Paths) == 0 {
		v.add("ingress", "must have at least one path")
	}
	seen := map[string]bool{}
	for i, p := range in.Paths {
		if p == nil {
			v.add(fmt.Sprintf("ingress.path[%d]", i), "must not be null")
			continue
		}
		field := fmt.Sprintf("ingress.path %q", p.Path)
		v.dup(seen, "ingress.path", p.Path)
		if !strings.HasPrefix(p.Path, "/") || strings.ContainsAny(p.Path, "?# \t") {
			v.add(field, "must start with \"/\" and hold no '?', '#' or spaces")
		}
		if p.Service == "" {
			v.add(field+".service", "is required")
		} else if msg := CheckDNSLabel(p.Service); msg != "" {
			v.add(field+".service", "must be a service name: %s", msg)
		}
		v.between(field+".port", p.Port, 1, 65535)
		if port, ok := j.jobServicePort(p.Service); ok && port >= 1 && port <= 65535 && p.Port >= 1 && p.Port != port {
			v.add(field+".port", "service %q of this job has port %d, got %d", p.Service, port, p.Port)
		}
	}
}
