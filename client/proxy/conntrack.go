package proxy

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// udpFlows selects UDP conntrack entries to delete. A UDP "connection"
// lives in conntrack as long as packets keep coming, so a DNS client
// that keeps asking stays pinned to a dead endpoint, or to no DNAT at
// all, unless its entry goes when the rules change.
type udpFlows struct {
	// origDst and origPort match the address the client sent to (a
	// ClusterIP and port, or any local address and a NodePort when
	// origDst is "").
	origDst  string
	origPort int
	// replySrc, when set, narrows to flows DNATed to that endpoint.
	replySrc string
}

func (f udpFlows) args() []string {
	args := []string{"-D", "-p", "udp"}
	if f.origDst != "" {
		args = append(args, "--orig-dst", f.origDst)
	}
	args = append(args, "--orig-port-dst", strconv.Itoa(f.origPort))
	if f.replySrc != "" {
		args = append(args, "--reply-src", f.replySrc)
	}
	return args
}

// staleUDPFlows returns the UDP flows to delete after going from old to
// now (old is nil before the first sync): flows to a service port that
// went away or lost all endpoints, flows DNATed to an endpoint that went
// away, and flows to a service port that got its first endpoint (they
// were not DNATed, and would never be while they last).
func staleUDPFlows(old, now *Ruleset) []udpFlows {
	oldPorts := map[string]*ServicePort{}
	if old != nil {
		for _, sp := range old.ServicePorts {
			if sp.Protocol == "udp" {
				oldPorts[sp.ID] = sp
			}
		}
	}
	var out []udpFlows
	nowPorts := map[string]*ServicePort{}
	for _, sp := range now.ServicePorts {
		if sp.Protocol != "udp" {
			continue
		}
		nowPorts[sp.ID] = sp
		was := oldPorts[sp.ID]
		switch {
		case len(sp.Endpoints) == 0:
			// Rejected now; deleted below if it had endpoints.
		case was == nil || len(was.Endpoints) == 0:
			if old != nil {
				out = append(out, wholePort(sp)...)
			}
		default:
			out = append(out, goneEndpoints(was, sp)...)
		}
	}
	for id, was := range oldPorts {
		sp := nowPorts[id]
		if len(was.Endpoints) > 0 && (sp == nil || len(sp.Endpoints) == 0 || sp.ClusterIP != was.ClusterIP || sp.Port != was.Port) {
			out = append(out, wholePort(was)...)
		}
	}
	return out
}

// wholePort selects every flow to a service port.
func wholePort(sp *ServicePort) []udpFlows {
	out := []udpFlows{{origDst: sp.ClusterIP, origPort: sp.Port}}
	if sp.NodePort != 0 {
		out = append(out, udpFlows{origPort: sp.NodePort})
	}
	return out
}

// goneEndpoints selects the flows of a service port DNATed to endpoints
// that it had and no longer has.
func goneEndpoints(was, now *ServicePort) []udpFlows {
	still := map[string]bool{}
	for _, t := range now.Endpoints {
		still[t.IP] = true
	}
	var out []udpFlows
	for _, t := range was.Endpoints {
		if still[t.IP] {
			continue
		}
		out = append(out, udpFlows{origDst: was.ClusterIP, origPort: was.Port, replySrc: t.IP})
		if was.NodePort != 0 {
			out = append(out, udpFlows{origPort: was.NodePort, replySrc: t.IP})
		}
	}
	return out
}

// deleteUDPFlows runs conntrack -D for each selection. conntrack exits 1
// when nothing matched ("0 flow entries have been deleted"), which is
// success here.
func deleteUDPFlows(ctx context.Context, run Runner, flows []udpFlows) error {
	var errs []error
	for _, f := range flows {
		_, err := run.Run(ctx, nil, "conntrack", f.args()...)
		var re *RunError
		if errors.As(err, &re) && re.ExitCode == 1 && strings.Contains(re.Stderr, "0 flow entries") {
			continue
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("delete UDP conntrack entries: %w", err))
		}
	}
	return errors.Join(errs...)
}
