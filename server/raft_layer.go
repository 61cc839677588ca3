package server

import (
	"errors"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// errPartitioned is returned by a partitioned stream layer's Dial.
var errPartitioned = errors.New("raft transport partitioned")

// raftLayer is the TCP stream layer under Raft's network transport. Beside
// plain TCP it can be partitioned: every open connection is closed, new
// ones are refused both ways. Fault tests use that to cut one server off.
type raftLayer struct {
	net.Listener
	advertise net.Addr

	mu          sync.Mutex
	partitioned bool
	conns       map[net.Conn]struct{}
}

func newRaftLayer(bind string, advertise net.Addr) (*raftLayer, error) {
	ln, err := net.Listen("tcp", bind)
	if err != nil {
		return nil, err
	}
	if advertise == nil {
		advertise = ln.Addr()
	}
	return &raftLayer{Listener: ln, advertise: advertise, conns: map[net.Conn]struct{}{}}, nil
}

// Addr is the advertised address, which Raft tells its peers.
func (l *raftLayer) Addr() net.Addr { return l.advertise }

// Accept returns the next connection, dropping those that arrive while
// partitioned.
func (l *raftLayer) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if tracked := l.track(c); tracked != nil {
			return tracked, nil
		}
	}
}

// Dial opens a connection to a peer unless partitioned.
func (l *raftLayer) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	l.mu.Lock()
	cut := l.partitioned
	l.mu.Unlock()
	if cut {
		return nil, errPartitioned
	}
	c, err := net.DialTimeout("tcp", string(address), timeout)
	if err != nil {
		return nil, err
	}
	if tracked := l.track(c); tracked != nil {
		return tracked, nil
	}
	return nil, errPartitioned
}

// track registers a connection so a partition can close it; it closes and
// returns nil when the layer is partitioned.
func (l *raftLayer) track(c net.Conn) net.Conn {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.partitioned {
		c.Close()
		return nil
	}
	l.conns[c] = struct{}{}
	return &trackedConn{Conn: c, layer: l}
}

// SetPartitioned cuts (true) or heals (false) this server's Raft traffic.
func (l *raftLayer) SetPartitioned(cut bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.partitioned = cut
	if cut {
		for c := range l.conns {
			c.Close()
		}
		l.conns = map[net.Conn]struct{}{}
	}
}

type trackedConn struct {
	net.Conn
	layer *raftLayer
	once  sync.Once
}

func (c *trackedConn) Close() error {
	c.once.Do(func() {
		c.layer.mu.Lock()
		delete(c.layer.conns, c.Conn)
		c.layer.mu.Unlock()
	})
	return c.Conn.Close()
}
