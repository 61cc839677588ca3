package dns

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"syscall"

	mdns "github.com/miekg/dns"
	"golang.org/x/net/ipv4"
)

// udpBatch is the most datagrams read (recvmmsg) or written (sendmmsg) in
// one system call. Under load a batch amortizes the system call, which the
// profile showed was most of the cost of a query; idle, a batch is one
// datagram and costs nothing more.
const udpBatch = 32

// udpServer serves DNS over one UDP socket with one goroutine: it reads a
// batch of queries, answers in place those whose answer the index holds
// packed (wire.go) or builds cheaply (other names in the zone), and writes
// the batch's answers together. Forwarded queries, which wait on an
// upstream, each get a goroutine that writes its own answer.
type udpServer struct {
	s    *Server
	conn *net.UDPConn
	pc   *ipv4.PacketConn
	done chan struct{}
	// forwards counts the forwarding goroutines, for Stop.
	forwards sync.WaitGroup

	in, out []ipv4.Message
	outBufs [][]byte
	key     [maxName]byte
}

func newUDPServer(s *Server, conn *net.UDPConn) *udpServer {
	u := &udpServer{s: s, conn: conn, pc: ipv4.NewPacketConn(conn), done: make(chan struct{})}
	u.in = make([]ipv4.Message, udpBatch)
	u.out = make([]ipv4.Message, udpBatch)
	u.outBufs = make([][]byte, udpBatch)
	for i := range u.in {
		u.in[i].Buffers = [][]byte{make([]byte, mdns.DefaultMsgSize)}
		u.out[i].Buffers = make([][]byte, 1)
		u.outBufs[i] = make([]byte, 0, mdns.MinMsgSize)
	}
	return u
}

// serve runs until the socket is closed.
func (u *udpServer) serve() {
	defer close(u.done)
	for {
		n, err := u.pc.ReadBatch(u.in, 0)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			u.s.logger.Warn("udp read", "error", err)
			continue
		}
		k := 0
		for i := range n {
			m := &u.in[i]
			if m.Flags&syscall.MSG_TRUNC != 0 {
				continue
			}
			b, ok := u.handle(m.Buffers[0][:m.N], u.outBufs[k][:0], m.Addr)
			if !ok {
				continue
			}
			u.outBufs[k] = b
			u.out[k].Buffers[0], u.out[k].Addr = b, m.Addr
			k++
		}
		u.write(u.out[:k])
	}
}

// write sends answers, as many per system call as the kernel takes.
func (u *udpServer) write(ms []ipv4.Message) {
	for len(ms) > 0 {
		n, err := u.pc.WriteBatch(ms, 0)
		if err != nil {
			// One bad destination must not cost the others their answer.
			u.s.logger.Trace("udp write", "remote", ms[0].Addr, "error", err)
			n = max(n, 1)
		}
		ms = ms[n:]
	}
}

// handle answers the query in pkt into out; false when there is nothing
// to send now (a forwarded query, or a packet not to be answered).
func (u *udpServer) handle(pkt, out []byte, from net.Addr) ([]byte, bool) {
	if q, ok := parseQuery(pkt, &u.key); ok {
		if wa := u.s.idx.Load().wireFor(q.key, q.qtype); wa != nil {
			if b, fits := appendAnswer(out, pkt, q, wa); fits {
				countQuery(clusterCounters, sourceCluster, wa.rcode)
				return b, true
			}
		}
	}
	req := new(mdns.Msg)
	if err := req.Unpack(pkt); err != nil || req.Response {
		return formErr(out, pkt)
	}
	if m, local := u.s.local(req); local {
		u.s.finish(req, m, true, true)
		return packInto(m, out)
	}
	select {
	case u.s.fwdSlot <- struct{}{}:
	default:
		m := u.s.tooManyForwards(req)
		u.s.finish(req, m, true, false)
		return packInto(m, out)
	}
	u.forwards.Add(1)
	go func() {
		defer u.forwards.Done()
		defer func() { <-u.s.fwdSlot }()
		m := u.s.forward(req)
		u.s.finish(req, m, true, false)
		if b, ok := packInto(m, nil); ok {
			if _, err := u.conn.WriteTo(b, from); err != nil {
				u.s.logger.Trace("udp write", "remote", from, "error", err)
			}
		}
	}()
	return nil, false
}

// packInto packs m into out.
func packInto(m *mdns.Msg, out []byte) ([]byte, bool) {
	b, err := m.PackBuffer(out[:cap(out)])
	if err != nil {
		return nil, false
	}
	return b, true
}

// formErr answers a query that does not parse with FORMERR, as long as it
// has a header and is not itself an answer (never answer answers).
func formErr(out, pkt []byte) ([]byte, bool) {
	if len(pkt) < 12 || pkt[2]&bitQR != 0 {
		return nil, false
	}
	out = append(out, pkt[0], pkt[1], bitQR|pkt[2]&(0x78|bitRD), byte(mdns.RcodeFormatError), 0, 0, 0, 0, 0, 0, 0, 0)
	return out, true
}

// stop closes the socket and waits for the forwards in flight until ctx
// ends.
func (u *udpServer) stop(ctx context.Context) error {
	if err := u.conn.Close(); err != nil {
		return fmt.Errorf("close udp: %w", err)
	}
	<-u.done
	waited := make(chan struct{})
	go func() { u.forwards.Wait(); close(waited) }()
	select {
	case <-waited:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("udp forwards still in flight: %w", ctx.Err())
	}
}
