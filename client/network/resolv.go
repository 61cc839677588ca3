package network

import (
	"fmt"
	"net"
	"os"
	"path/filepath"

	nodedns "github.com/mk-orchestrator/mk/client/dns"
)

// writeResolvConf writes the pod's resolv.conf (nodedns.ResolvConf: the
// node DNS on the gateway, the cluster's search domains) at path (atomically,
// readable by every user: tasks may run as any).
func writeResolvConf(path string, gateway net.IP, ns string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("resolv.conf: %w", err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, nodedns.ResolvConf(gateway.String(), ns), 0o644); err != nil {
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
