package dns

import (
	"fmt"

	"github.com/mk-orchestrator/mk/structs"
)

// ResolvConf is the /etc/resolv.conf of a pod in namespace: the node DNS
// on gateway as its only nameserver, and the search domains that let a
// pod reach "web" (same namespace), "web.other" and "web.other.svc".
// ndots:5 makes the resolver try the search domains first for any name
// with fewer than five dots, as Kubernetes does, so the node DNS only
// ever sees fully qualified names.
func ResolvConf(gateway string, namespace string) []byte {
	if namespace == "" {
		namespace = structs.DefaultNamespace
	}
	d := structs.ClusterDomain
	return fmt.Appendf(nil, "nameserver %s\nsearch %s.svc.%s svc.%s %s\noptions ndots:5\n", gateway, namespace, d, d, d)
}
