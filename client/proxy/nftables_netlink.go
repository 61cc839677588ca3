package proxy

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/google/nftables/expr"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// Every sync's service port objects go to the kernel as one netlink
// batch built here, not as nft text: at 10,000 services × 10 endpoints
// nft spent 0.8 s of its 1.4 s parsing and evaluating the 5.4 MB of text
// a full sync is (perf, see docs/benchmarks.md), and the batch is built
// in a tenth of that; a one-endpoint change skips nft's start and its
// reading of the table.

// nftTableName is mk's table in the ip family (nftTable is "ip mk").
const nftTableName = "mk"

// nlElementsPerMessage bounds the elements of one message: the element
// list is one netlink attribute, whose length is 16 bits.
const nlElementsPerMessage = 400

// nlBatch is one nf_tables transaction as netlink messages: the kernel
// applies all of it or none.
type nlBatch struct {
	msgs []netlink.Message
	size int
	err  error
}

func (b *nlBatch) add(msgType int, flags netlink.HeaderFlags, attrs func(ae *netlink.AttributeEncoder)) {
	if b.err != nil {
		return
	}
	ae := netlink.NewAttributeEncoder()
	attrs(ae)
	data, err := ae.Encode()
	if err != nil {
		b.err = fmt.Errorf("encode nf_tables message %d: %w", msgType, err)
		return
	}
	b.msgs = append(b.msgs, netlink.Message{
		Header: netlink.Header{Type: nftMsgType(msgType), Flags: netlink.Request | flags},
		Data:   append(nfgenHeader(unix.NFPROTO_IPV4, 0), data...),
	})
	b.size += len(data) + 20
}

func nftMsgType(t int) netlink.HeaderType {
	return netlink.HeaderType(unix.NFNL_SUBSYS_NFTABLES<<8 | t)
}

// nfgenHeader is struct nfgenmsg: family, version 0, resource id.
func nfgenHeader(family byte, resID uint16) []byte {
	return binary.BigEndian.AppendUint16([]byte{family, unix.NFNETLINK_V0}, resID)
}

// named adds a message that names one object of mk's table: the
// table's attribute, then the object's.
func (b *nlBatch) named(msgType int, flags netlink.HeaderFlags, tableAttr, nameAttr uint16, name string) {
	b.add(msgType, flags, func(ae *netlink.AttributeEncoder) {
		ae.String(tableAttr, nftTableName)
		ae.String(nameAttr, name)
	})
}

func (b *nlBatch) addChain(name string) {
	b.named(unix.NFT_MSG_NEWCHAIN, netlink.Create, unix.NFTA_CHAIN_TABLE, unix.NFTA_CHAIN_NAME, name)
}

// flushChain deletes every rule of a chain.
func (b *nlBatch) flushChain(name string) {
	b.named(unix.NFT_MSG_DELRULE, 0, unix.NFTA_RULE_TABLE, unix.NFTA_RULE_CHAIN, name)
}

func (b *nlBatch) deleteChain(name string) {
	b.named(unix.NFT_MSG_DELCHAIN, 0, unix.NFTA_CHAIN_TABLE, unix.NFTA_CHAIN_NAME, name)
}

// flushSet deletes every element of a set or map.
func (b *nlBatch) flushSet(name string) {
	b.named(unix.NFT_MSG_DELSETELEM, 0, unix.NFTA_SET_ELEM_LIST_TABLE, unix.NFTA_SET_ELEM_LIST_SET, name)
}

func (b *nlBatch) deleteSet(name string) {
	b.named(unix.NFT_MSG_DELSET, 0, unix.NFTA_SET_TABLE, unix.NFTA_SET_NAME, name)
}

// writeChain writes a chain's rules, flushing the old ones first when
// the chain exists.
func (b *nlBatch) writeChain(c *chain, exists bool) {
	if exists {
		b.flushChain(c.name)
	}
	for _, rule := range c.stmts {
		b.addRule(c.name, rule)
	}
}

// addRule appends a rule of statements to a chain.
func (b *nlBatch) addRule(chainName string, rule []nftStmt) {
	exprs, err := nftRuleExprs(rule)
	if err != nil {
		b.err = fmt.Errorf("rule of chain %s: %w", chainName, err)
		return
	}
	b.add(unix.NFT_MSG_NEWRULE, netlink.Create|netlink.Append, func(ae *netlink.AttributeEncoder) {
		ae.String(unix.NFTA_RULE_TABLE, nftTableName)
		ae.String(unix.NFTA_RULE_CHAIN, chainName)
		ae.Nested(unix.NFTA_RULE_EXPRESSIONS, func(list *netlink.AttributeEncoder) error {
			for _, e := range exprs {
				data, err := expr.Marshal(unix.NFPROTO_IPV4, e)
				if err != nil {
					return err
				}
				list.Bytes(unix.NFTA_LIST_ELEM|unix.NLA_F_NESTED, data)
			}
			return nil
		})
	})
}

// addElements adds elements, of any sets and maps.
func (b *nlBatch) addElements(elements []*element) {
	b.elements(unix.NFT_MSG_NEWSETELEM, netlink.Create, elements)
}

// deleteElements deletes elements, of any sets and maps.
func (b *nlBatch) deleteElements(elements []*element) {
	b.elements(unix.NFT_MSG_DELSETELEM, 0, elements)
}

// elements sends elements by set, in messages of at most
// nlElementsPerMessage.
func (b *nlBatch) elements(msgType int, flags netlink.HeaderFlags, elements []*element) {
	byContainer, containers := groupElements(elements)
	for _, set := range containers {
		b.setElements(msgType, flags, set, byContainer[set])
	}
}

func (b *nlBatch) setElements(msgType int, flags netlink.HeaderFlags, set string, elements []*element) {
	var list []byte
	withValue := msgType == unix.NFT_MSG_NEWSETELEM
	for start := 0; start < len(elements) && b.err == nil; start += nlElementsPerMessage {
		list = list[:0]
		for _, e := range elements[start:min(start+nlElementsPerMessage, len(elements))] {
			var err error
			if list, err = appendElement(list, e, withValue); err != nil {
				b.err = err
				return
			}
		}
		b.add(msgType, flags, func(ae *netlink.AttributeEncoder) {
			ae.String(unix.NFTA_SET_ELEM_LIST_TABLE, nftTableName)
			ae.String(unix.NFTA_SET_ELEM_LIST_SET, set)
			ae.Bytes(unix.NFTA_SET_ELEM_LIST_ELEMENTS|unix.NLA_F_NESTED, list)
		})
	}
}

// deleteStale flushes the stale chains, then deletes them and the stale
// sets and maps, given as "set NAME" or "map NAME": a chain can only go
// once no rule jumps to it, a set once no rule uses it.
func (b *nlBatch) deleteStale(chains, containers []string) {
	for _, name := range chains {
		b.flushChain(name)
	}
	for _, name := range chains {
		b.deleteChain(name)
	}
	for _, kindName := range containers {
		_, name, _ := strings.Cut(kindName, " ")
		b.deleteSet(name)
	}
}

// appendElement appends one element, as a list entry, from the text
// the renderer made of it: the key and, withValue, the value, laid out
// as the set's type has them. A full sync encodes 110,000 of these at 10,000
// services, so they are appended directly rather than built as
// attribute values (a third of the sync's CPU in the profile).
func appendElement(b []byte, e *element, withValue bool) ([]byte, error) {
	keyFields, valueFields := elementLayout(e.container)
	elem := len(b)
	b = appendAttrHeader(b, unix.NFTA_LIST_ELEM|unix.NLA_F_NESTED)
	key := len(b)
	b = appendAttrHeader(b, unix.NFTA_SET_ELEM_KEY|unix.NLA_F_NESTED)
	value := len(b)
	b = appendAttrHeader(b, unix.NFTA_DATA_VALUE)
	b, err := appendFields(b, e.key, keyFields)
	if err != nil {
		return nil, fmt.Errorf("element %s: %w", e.id, err)
	}
	b = endAttr(b, value)
	b = endAttr(b, key)
	if withValue && e.value != "" {
		data := len(b)
		b = appendAttrHeader(b, unix.NFTA_SET_ELEM_DATA|unix.NLA_F_NESTED)
		if chainName, ok := strings.CutPrefix(e.value, "goto "); ok {
			verdict := len(b)
			b = appendAttrHeader(b, unix.NFTA_DATA_VERDICT|unix.NLA_F_NESTED)
			code := len(b)
			b = appendAttrHeader(b, unix.NFTA_VERDICT_CODE)
			b = binary.BigEndian.AppendUint32(b, uint32(0xffffffff+unix.NFT_GOTO+1)) // -4, two's complement
			b = endAttr(b, code)
			name := len(b)
			b = appendAttrHeader(b, unix.NFTA_VERDICT_CHAIN)
			b = append(append(b, chainName...), 0)
			b = endAttr(b, name)
			b = endAttr(b, verdict)
		} else {
			v := len(b)
			b = appendAttrHeader(b, unix.NFTA_DATA_VALUE)
			if b, err = appendFields(b, e.value, valueFields); err != nil {
				return nil, fmt.Errorf("element %s: value: %w", e.id, err)
			}
			b = endAttr(b, v)
		}
		b = endAttr(b, data)
	}
	return endAttr(b, elem), nil
}

// appendAttrHeader starts an attribute whose length endAttr fills in.
func appendAttrHeader(b []byte, typ uint16) []byte {
	return binary.NativeEndian.AppendUint16(append(b, 0, 0), typ)
}

// endAttr sets the length of the attribute that starts at start and
// pads it to 4 bytes.
func endAttr(b []byte, start int) []byte {
	binary.NativeEndian.PutUint16(b[start:], uint16(len(b)-start))
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

// nftField is one field of a concatenated key or value.
type nftField int

const (
	fieldIPv4    nftField = iota // 4 bytes, network order
	fieldProto                   // 1 byte, padded to 4
	fieldPort                    // 2 bytes, network order, padded to 4
	fieldNumgen                  // 4 bytes, host order: what numgen draws
	fieldInvalid                 // a container mk does not write elements of
)

// elementLayout is the key and value fields of a container's elements
// (see nftContainers and endpointsMap).
func elementLayout(container string) (key, value []nftField) {
	switch {
	case container == nftServiceIPs || container == nftNoEndpointServices:
		return layoutServiceKey, nil
	case container == nftServiceNodePorts || container == nftNoEndpointNodePorts:
		return layoutNodePortKey, nil
	case container == nftHairpin:
		return layoutHairpinKey, nil
	case strings.HasPrefix(container, nftEndpointsPrefix):
		return layoutSlotKey, layoutEndpointValue
	}
	return layoutInvalid, nil
}

// The layouts, made once: every element of a full sync looks its up.
var (
	layoutServiceKey    = []nftField{fieldIPv4, fieldProto, fieldPort}
	layoutNodePortKey   = []nftField{fieldProto, fieldPort}
	layoutHairpinKey    = []nftField{fieldIPv4, fieldIPv4}
	layoutSlotKey       = []nftField{fieldNumgen}
	layoutEndpointValue = []nftField{fieldIPv4, fieldPort}
	layoutInvalid       = []nftField{fieldInvalid}
)

// appendFields appends "a . b . c" as the concatenation of its fields,
// each padded to 4 bytes.
func appendFields(out []byte, text string, fields []nftField) ([]byte, error) {
	rest := text
	for i, f := range fields {
		p, more, found := strings.Cut(rest, " . ")
		if found != (i < len(fields)-1) {
			return nil, fmt.Errorf("%q: want %d fields", text, len(fields))
		}
		rest = more
		switch f {
		case fieldIPv4:
			addr, err := netip.ParseAddr(p)
			if err != nil || !addr.Is4() {
				return nil, fmt.Errorf("%q: not an IPv4 address", p)
			}
			ip := addr.As4()
			out = append(out, ip[:]...)
		case fieldProto:
			num, ok := ipProtocols[p]
			if !ok {
				return nil, fmt.Errorf("%q: not tcp or udp", p)
			}
			out = append(out, num, 0, 0, 0)
		case fieldPort:
			port, err := strconv.ParseUint(p, 10, 16)
			if err != nil {
				return nil, fmt.Errorf("%q: not a port", p)
			}
			out = append(binary.BigEndian.AppendUint16(out, uint16(port)), 0, 0)
		case fieldNumgen:
			n, err := strconv.ParseUint(p, 10, 32)
			if err != nil {
				return nil, fmt.Errorf("%q: not a 32-bit number", p)
			}
			out = binary.NativeEndian.AppendUint32(out, uint32(n))
		default:
			return nil, errors.New("elements of this container are not written over netlink")
		}
	}
	return out, nil
}

// nlReplyTimeout bounds the wait for the kernel's answer. The kernel
// applies a batch while the send is in progress, so the answer is
// already queued when the send returns; the bound only keeps a broken
// socket from hanging the proxy.
const nlReplyTimeout = 30 * time.Second

// sendBatch applies b in the network namespace at netnsPath (the calling
// thread's when ""). Only the last message asks for an acknowledgement:
// the kernel reports any failed message anyway, and acknowledging tens
// of thousands would fill the socket's receive buffer.
func sendBatch(netnsPath string, b *nlBatch) error {
	if b.err != nil {
		return b.err
	}
	if len(b.msgs) == 0 {
		return nil
	}
	conn, err := dialNetfilter(netnsPath)
	if err != nil {
		return err
	}
	defer conn.Close()
	// One sendmsg carries the whole batch: the socket's send buffer must
	// hold it (SO_SNDBUFFORCE, as root).
	if err := conn.SetWriteBuffer(b.size + 1<<16); err != nil {
		return fmt.Errorf("netlink send buffer of %d bytes: %w", b.size, err)
	}
	_ = conn.SetOption(netlink.ExtendedAcknowledge, true) // error texts, where the kernel has them
	msgs := make([]netlink.Message, 0, len(b.msgs)+2)
	msgs = append(msgs, batchMarker(unix.NFNL_MSG_BATCH_BEGIN))
	msgs = append(msgs, b.msgs...)
	msgs[len(msgs)-1].Header.Flags |= netlink.Acknowledge
	msgs = append(msgs, batchMarker(unix.NFNL_MSG_BATCH_END))
	sent, err := conn.SendMessages(msgs)
	if err != nil {
		return fmt.Errorf("send nf_tables batch of %d messages: %w", len(msgs), err)
	}
	if err := conn.SetReadDeadline(time.Now().Add(nlReplyTimeout)); err != nil {
		return fmt.Errorf("netlink read deadline: %w", err)
	}
	last := sent[len(sent)-2].Header.Sequence
	for {
		replies, err := conn.Receive()
		if err != nil {
			return fmt.Errorf("nf_tables batch of %d messages: %w", len(msgs), err)
		}
		for _, m := range replies {
			if m.Header.Sequence == last {
				return nil
			}
		}
	}
}

func batchMarker(t int) netlink.Message {
	return netlink.Message{
		Header: netlink.Header{Type: netlink.HeaderType(t), Flags: netlink.Request},
		Data:   nfgenHeader(unix.AF_UNSPEC, unix.NFNL_SUBSYS_NFTABLES),
	}
}

// dialNetfilter opens a netfilter netlink socket in the namespace at
// path, or in the calling thread's when path is "".
func dialNetfilter(path string) (*netlink.Conn, error) {
	cfg := &netlink.Config{}
	if path != "" {
		ns, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("open network namespace: %w", err)
		}
		defer ns.Close()
		cfg.NetNS = int(ns.Fd())
	}
	conn, err := netlink.Dial(unix.NETLINK_NETFILTER, cfg)
	if err != nil {
		return nil, fmt.Errorf("dial netfilter netlink: %w", err)
	}
	return conn, nil
}
