package client

import (
	"net"
	"strconv"

	"github.com/mk-orchestrator/mk/structs"
)

// addPortEnv adds the pod's ports to a task's environment, as the
// scheduler allocated them on this node (Pod.Ports): for each port label
// MK_PORT_<label> (the port to listen on) and MK_ADDR_<label> (ip:port),
// and MK_IP, the node's address. Pods share the node's network, so the
// port to listen on is the node port.
func addPortEnv(env map[string]string, pod *structs.Pod) {
	for _, p := range pod.Ports {
		port := strconv.Itoa(p.Value)
		env["MK_PORT_"+p.Label] = port
		env["MK_ADDR_"+p.Label] = net.JoinHostPort(p.HostIP, port)
		if p.HostIP != "" {
			env["MK_IP"] = p.HostIP
		}
	}
}
