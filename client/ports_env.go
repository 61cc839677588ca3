package client

import (
	"net"
	"strconv"

	"github.com/mk-orchestrator/mk/structs"
)

// addPortEnv adds the pod's ports to a task's environment: for each port
// label MK_PORT_<label> (the port to listen on) and MK_ADDR_<label>
// (ip:port), and MK_IP. A pod with an address of its own (podIP, bridge
// mode) listens on the port inside the pod (the port's `to`) at its
// address; the node port is DNATed to it. A pod in its node's network
// listens on the node port the scheduler gave it (Pod.Ports), and MK_IP
// is the node's address.
func addPortEnv(env map[string]string, pod *structs.Pod, podIP string) {
	if podIP != "" {
		env["MK_IP"] = podIP
	}
	for _, p := range pod.Ports {
		if podIP != "" {
			port := strconv.Itoa(podPort(p))
			env["MK_PORT_"+p.Label] = port
			env["MK_ADDR_"+p.Label] = net.JoinHostPort(podIP, port)
			continue
		}
		port := strconv.Itoa(p.Value)
		env["MK_PORT_"+p.Label] = port
		env["MK_ADDR_"+p.Label] = net.JoinHostPort(p.HostIP, port)
		if p.HostIP != "" {
			env["MK_IP"] = p.HostIP
		}
	}
}

// podPort is the port a pod with its own address listens on for p: its
// `to`, else the node port.
func podPort(p *structs.AllocatedPort) int {
	if p.To > 0 {
		return p.To
	}
	return p.Value
}
