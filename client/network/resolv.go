package network

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"

	"github.com/mk-orchestrator/mk/structs"
)

// ResolvConf is the resolv.conf of a pod in namespace ns: the node DNS on
// the gateway, the cluster's search domains, ndots 5 (as Kubernetes: a
// service's short name is tried in the search domains first).
func ResolvConf(gateway net.IP, ns string) string {
	if ns == "" {
		ns = structs.DefaultNamespace
	}
	d := structs.ClusterDomain
	var b strings.Builder
	fmt.Fprintf(&b, "# written by mk for a pod; the node DNS answers on the pod gateway\n")
	fmt.Fprintf(&b, "nameserver %s\n", gateway)
	fmt.Fprintf(&b, "search %s.svc.%s svc.%s %s\n", ns, d, d, d)
	fmt.Fprintf(&b, "options ndots:5\n")
	return b.String()
}

// writeResolvConf writes the pod's resolv.conf at path (atomically,
// readable by every user: tasks may run as any).
func writeResolvConf(path string, gateway net.IP, ns string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("resolv.conf: %w", err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(ResolvConf(gateway, ns)), 0o644); err != nil {
		return fmt.Errorf("write resolv.conf: %w", err)
	}
	if err := os.Chmod(tmp, 0o644); err != nil {
		return fmt.Errorf("write resolv.conf: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("write resolv.conf: %w", err)
	}
	return nil
}
