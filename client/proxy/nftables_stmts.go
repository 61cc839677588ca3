package proxy

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"strconv"

	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// nftStmt is one statement of a rule in a service port's chain, in both
// forms mk writes: the text nft reads (partial syncs) and the
// expressions the kernel runs (full syncs, over netlink). Both forms of
// every statement come from one value, so the two paths cannot drift;
// TestNFTablesNetlinkMatchesText checks that the kernel holds the same
// bytecode either way.
type nftStmt interface {
	text(b []byte) []byte
	exprs(out []expr.Any) ([]expr.Any, error)
}

// nftRuleText is a rule's statements as nft reads them.
func nftRuleText(b []byte, rule []nftStmt) []byte {
	for i, s := range rule {
		if i > 0 {
			b = append(b, ' ')
		}
		b = s.text(b)
	}
	return b
}

// nftRuleExprs is a rule's statements as kernel expressions.
func nftRuleExprs(rule []nftStmt) ([]expr.Any, error) {
	var out []expr.Any
	for _, s := range rule {
		var err error
		if out, err = s.exprs(out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Registers as nft allocates them: reg 1 is the first 16-byte register,
// reg 9 the second 4-byte word of it (NFT_REG32_01), where a lookup
// puts the port of an "address . port" map value.
const (
	nftReg1     = 1
	nftReg2     = 2
	nftReg32_01 = 9
	// ipv4 header offset of the source address.
	nftSaddrOffset = 12
)

// stmtMarkMasq sets the masquerade bit (see nftMarkMasq).
type stmtMarkMasq struct{}

func (stmtMarkMasq) text(b []byte) []byte { return append(b, nftMarkMasq...) }

func (stmtMarkMasq) exprs(out []expr.Any) ([]expr.Any, error) {
	return append(out,
		&expr.Meta{Key: expr.MetaKeyMARK, Register: nftReg1},
		&expr.Bitwise{SourceRegister: nftReg1, DestRegister: nftReg1, Len: 4,
			Mask: nativeUint32(^uint32(0x4000)), Xor: nativeUint32(0x4000)},
		&expr.Meta{Key: expr.MetaKeyMARK, SourceRegister: true, Register: nftReg1},
	), nil
}

// stmtSaddrNotIn matches sources outside a range: "ip saddr != prefix".
type stmtSaddrNotIn struct{ prefix string }

func (s stmtSaddrNotIn) text(b []byte) []byte {
	return append(append(b, "ip saddr != "...), s.prefix...)
}

// exprs compare as nft does: only the prefix's whole bytes when it ends
// on a byte, else all four under a mask.
func (s stmtSaddrNotIn) exprs(out []expr.Any) ([]expr.Any, error) {
	p, err := netip.ParsePrefix(s.prefix)
	if err != nil || !p.Addr().Is4() {
		return nil, fmt.Errorf("source range %q: not an IPv4 prefix", s.prefix)
	}
	p = p.Masked()
	addr := p.Addr().As4()
	bits := p.Bits()
	if bits%8 == 0 {
		n := uint32(bits / 8)
		return append(out,
			&expr.Payload{DestRegister: nftReg1, Base: expr.PayloadBaseNetworkHeader, Offset: nftSaddrOffset, Len: n},
			&expr.Cmp{Op: expr.CmpOpNeq, Register: nftReg1, Data: addr[:n]},
		), nil
	}
	mask := netip.PrefixFrom(netip.AddrFrom4([4]byte{255, 255, 255, 255}), bits).Masked().Addr().As4()
	return append(out,
		&expr.Payload{DestRegister: nftReg1, Base: expr.PayloadBaseNetworkHeader, Offset: nftSaddrOffset, Len: 4},
		&expr.Bitwise{SourceRegister: nftReg1, DestRegister: nftReg1, Len: 4, Mask: mask[:], Xor: make([]byte, 4)},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: nftReg1, Data: addr[:]},
	), nil
}

// stmtSaddrInSet matches sources a session-affinity set holds.
type stmtSaddrInSet struct{ set string }

func (s stmtSaddrInSet) text(b []byte) []byte { return append(append(b, "ip saddr @"...), s.set...) }

func (s stmtSaddrInSet) exprs(out []expr.Any) ([]expr.Any, error) {
	return append(out, loadSaddr(), &expr.Lookup{SourceRegister: nftReg1, SetName: s.set}), nil
}

// stmtUpdateSet adds the source to a session-affinity set, or renews
// its timeout.
type stmtUpdateSet struct{ set string }

func (s stmtUpdateSet) text(b []byte) []byte {
	return append(append(append(b, "update @"...), s.set...), " { ip saddr }"...)
}

func (s stmtUpdateSet) exprs(out []expr.Any) ([]expr.Any, error) {
	return append(out, loadSaddr(),
		&expr.Dynset{SrcRegKey: nftReg1, SetName: s.set, Operation: unix.NFT_DYNSET_OP_UPDATE}), nil
}

// stmtNumgenIs matches when a random number below mod is value.
type stmtNumgenIs struct{ mod, value int }

func (s stmtNumgenIs) text(b []byte) []byte {
	b = append(b, "numgen random mod "...)
	b = strconv.AppendInt(b, int64(s.mod), 10)
	b = append(b, ' ')
	return strconv.AppendInt(b, int64(s.value), 10)
}

func (s stmtNumgenIs) exprs(out []expr.Any) ([]expr.Any, error) {
	return append(out,
		&expr.Numgen{Register: nftReg1, Modulus: uint32(s.mod), Type: unix.NFT_NG_RANDOM},
		&expr.Cmp{Op: expr.CmpOpEq, Register: nftReg1, Data: nativeUint32(uint32(s.value))},
	), nil
}

// stmtDNAT sends the packet to one endpoint.
type stmtDNAT struct {
	proto string
	ip    string
	port  int
}

func (s stmtDNAT) text(b []byte) []byte {
	b = append(append(append(b, "meta l4proto "...), s.proto...), " dnat to "...)
	b = append(append(b, s.ip...), ':')
	return strconv.AppendInt(b, int64(s.port), 10)
}

func (s stmtDNAT) exprs(out []expr.Any) ([]expr.Any, error) {
	out, err := matchL4Proto(out, s.proto)
	if err != nil {
		return nil, err
	}
	addr, err := netip.ParseAddr(s.ip)
	if err != nil || !addr.Is4() {
		return nil, fmt.Errorf("endpoint %q: not an IPv4 address", s.ip)
	}
	ip := addr.As4()
	return append(out,
		&expr.Immediate{Register: nftReg1, Data: ip[:]},
		&expr.Immediate{Register: nftReg2, Data: binary.BigEndian.AppendUint16(nil, uint16(s.port))},
		&expr.NAT{Type: expr.NATTypeDestNAT, Family: unix.NFPROTO_IPV4, RegAddrMin: nftReg1, RegProtoMin: nftReg2, Specified: true},
	), nil
}

// stmtDNATMap sends the packet to endpoint i of a port, the element
// offset+i of an endpoint map, i drawn at random below mod.
type stmtDNATMap struct {
	proto       string
	mod, offset int
	m           string
}

func (s stmtDNATMap) text(b []byte) []byte {
	b = append(append(append(b, "meta l4proto "...), s.proto...), " dnat to numgen random mod "...)
	b = strconv.AppendInt(b, int64(s.mod), 10)
	b = append(b, " offset "...)
	b = strconv.AppendInt(b, int64(s.offset), 10)
	return append(append(b, " map @"...), s.m...)
}

func (s stmtDNATMap) exprs(out []expr.Any) ([]expr.Any, error) {
	out, err := matchL4Proto(out, s.proto)
	if err != nil {
		return nil, err
	}
	return append(out,
		&expr.Numgen{Register: nftReg1, Modulus: uint32(s.mod), Type: unix.NFT_NG_RANDOM, Offset: uint32(s.offset)},
		&expr.Lookup{SourceRegister: nftReg1, DestRegister: nftReg1, IsDestRegSet: true, SetName: s.m},
		&expr.NAT{Type: expr.NATTypeDestNAT, Family: unix.NFPROTO_IPV4, RegAddrMin: nftReg1, RegProtoMin: nftReg32_01},
	), nil
}

// stmtGoto continues in another chain, never coming back.
type stmtGoto struct{ chain string }

func (s stmtGoto) text(b []byte) []byte { return append(append(b, "goto "...), s.chain...) }

func (s stmtGoto) exprs(out []expr.Any) ([]expr.Any, error) {
	return append(out, &expr.Verdict{Kind: expr.VerdictGoto, Chain: s.chain}), nil
}

func loadSaddr() *expr.Payload {
	return &expr.Payload{DestRegister: nftReg1, Base: expr.PayloadBaseNetworkHeader, Offset: nftSaddrOffset, Len: 4}
}

func matchL4Proto(out []expr.Any, proto string) ([]expr.Any, error) {
	num, ok := ipProtocols[proto]
	if !ok {
		return nil, fmt.Errorf("protocol %q: not tcp or udp", proto)
	}
	return append(out,
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: nftReg1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: nftReg1, Data: []byte{num}},
	), nil
}

// ipProtocols are the protocol numbers of the protocols a service port
// can have.
var ipProtocols = map[string]byte{"tcp": unix.IPPROTO_TCP, "udp": unix.IPPROTO_UDP}

// nativeUint32 is v as the kernel keeps a 32-bit register value that
// came from meta or numgen: in the host's byte order.
func nativeUint32(v uint32) []byte { return binary.NativeEndian.AppendUint32(nil, v) }
