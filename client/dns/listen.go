package dns

import (
	"errors"
	"fmt"
	"net"
	"syscall"
)

// listen opens the UDP and TCP listeners of addr on one port. With port 0
// the kernel picks the UDP port and TCP takes the same one; when another
// program holds that port for TCP it tries again with a new one.
func listen(addr string) (net.PacketConn, net.Listener, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, nil, fmt.Errorf("listen address %q: %w", addr, err)
	}
	for range 16 {
		pc, err := net.ListenPacket("udp", addr)
		if err != nil {
			return nil, nil, fmt.Errorf("listen udp %s: %w", addr, err)
		}
		bound := net.JoinHostPort(host, fmt.Sprint(pc.LocalAddr().(*net.UDPAddr).Port))
		l, err := net.Listen("tcp", bound)
		if err == nil {
			return pc, l, nil
		}
		pc.Close()
		if port != "0" || !errors.Is(err, syscall.EADDRINUSE) {
			return nil, nil, fmt.Errorf("listen tcp %s: %w", bound, err)
		}
	}
	return nil, nil, fmt.Errorf("listen %s: no port free for both udp and tcp", addr)
}
