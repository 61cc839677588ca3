// Package proxy is mk's service proxy, what kube-proxy is to Kubernetes:
// it turns services and their endpoints into packet-filter rules on every
// client so that a service's ClusterIP (and NodePort) reaches its ready
// pods.
//
// It is three parts that are tested alone:
//
//   - Compute, a pure function from (services, endpoints, node) to a
//     Ruleset: the desired state, independent of the backend.
//   - A Writer per backend (IPTables, NFTables) that makes the kernel match
//     a Ruleset with one atomic transaction per sync (iptables-restore
//     --noflush, nft -f), rewriting after the first sync only what changed.
//   - Proxy, the runner: it takes updates, coalesces bursts, syncs through
//     the writer, cleans UDP conntrack entries of what went away, and
//     keeps metrics.
//
// # The masquerade mark
//
// Traffic that must leave with the node's address (a NodePort, a ClusterIP
// reached from outside the pod CIDR pool, a pod reaching itself through its
// service) is marked with bit 0x4000 of the packet mark (MarkMasq, the bit
// kube-proxy uses too, so that tools that know it read mk's rules the same
// way). The postrouting chain masquerades marked packets and clears the
// bit; the iptables FORWARD hook accepts marked packets so that a host
// firewall with a DROP policy (docker's) does not break service traffic.
//
// Only mk's own chains (MK-*, table ip mk) and the jump rules into them are
// ever written or removed; the host's other rules are never touched.
package proxy
