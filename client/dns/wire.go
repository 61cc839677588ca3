package dns

import (
	"encoding/binary"

	mdns "github.com/miekg/dns"
)

// The fast path. A CPU profile of the server under dnsperf (see
// docs/benchmarks.md, "dns") showed about a quarter of its time in
// unpacking each query into a Msg, packing each answer and the garbage
// they leave, and another tenth in starting a goroutine per packet. The
// answers for names in the index do not change between Updates, so they
// are packed once, on first use, and a query for one is answered by
// copying bytes: its header and question (so the answer spells the name
// as the query did), then the packed sections.

// wireAnswer is the packed part of an answer that follows the question:
// the answer, authority and additional sections, with their counts. Names
// in it are compressed against the question, which is the same length
// whatever its case, so the offsets hold for every query of the name.
type wireAnswer struct {
	rcode      int
	an, ns, ar uint16
	tail       []byte
}

// Header bits of byte 2 and 3 of a DNS message.
const (
	bitQR = 0x80 // byte 2: response
	bitAA = 0x04 // byte 2: authoritative
	bitRD = 0x01 // byte 2: recursion desired
	bitRA = 0x80 // byte 3: recursion available
	bitCD = 0x10 // byte 3: checking disabled
)

// maxName bounds a name in presentation form.
const maxName = 255

// packWire packs the sections of res as the answer to name (lower case)
// of type qtype; nil when it does not pack, which leaves such queries to
// the general path.
func packWire(name string, qtype uint16, res result, soa *mdns.SOA, compress bool) *wireAnswer {
	m := &mdns.Msg{Compress: compress, Answer: res.answer, Extra: res.extra}
	m.Question = []mdns.Question{{Name: name, Qtype: qtype, Qclass: mdns.ClassINET}}
	if res.negative {
		m.Ns = []mdns.RR{soa}
	}
	buf, err := m.Pack()
	if err != nil {
		return nil
	}
	off, ok := skipName(buf, 12)
	if !ok || off+4 > len(buf) {
		return nil
	}
	return &wireAnswer{
		rcode: res.rcode,
		an:    uint16(len(m.Answer)),
		ns:    uint16(len(m.Ns)),
		ar:    uint16(len(m.Extra)),
		tail:  buf[off+4:],
	}
}

// skipName returns the offset after the uncompressed name at off.
func skipName(buf []byte, off int) (int, bool) {
	for off < len(buf) {
		l := int(buf[off])
		switch {
		case l == 0:
			return off + 1, true
		case l&0xC0 != 0:
			return 0, false
		}
		off += 1 + l
	}
	return 0, false
}

// query is what the fast path reads from a packet.
type query struct {
	// key is the name in lower case and presentation form, in a buffer of
	// the caller's.
	key []byte
	// qend is the offset after the question.
	qend  int
	qtype uint16
	// edns is set when the query carries an OPT record; size is the UDP
	// payload size the client takes.
	edns bool
	size int
}

// parseQuery reads a plain query: one question of class IN whose name is
// letters, digits, '-' and '_', and at most an OPT record (EDNS version 0)
// after it. Anything else, ok false, takes the general path.
func parseQuery(pkt []byte, keyBuf *[maxName]byte) (q query, ok bool) {
	if len(pkt) < 17 || pkt[2]&(bitQR|0x78) != 0 || // a response, or an opcode other than QUERY
		binary.BigEndian.Uint16(pkt[4:]) != 1 || binary.BigEndian.Uint16(pkt[6:]) != 0 ||
		binary.BigEndian.Uint16(pkt[8:]) != 0 || binary.BigEndian.Uint16(pkt[10:]) > 1 {
		return q, false
	}
	key := keyBuf[:0]
	off := 12
	for {
		if off >= len(pkt) {
			return q, false
		}
		l := int(pkt[off])
		if l == 0 {
			off++
			break
		}
		if l > 63 || off+1+l > len(pkt) || len(key)+l+1 > maxName {
			return q, false
		}
		for _, c := range pkt[off+1 : off+1+l] {
			switch {
			case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-', c == '_':
			case c >= 'A' && c <= 'Z':
				c += 'a' - 'A'
			default:
				return q, false
			}
			key = append(key, c)
		}
		key = append(key, '.')
		off += 1 + l
	}
	if len(key) == 0 || off+4 > len(pkt) || binary.BigEndian.Uint16(pkt[off+2:]) != mdns.ClassINET {
		return q, false
	}
	q = query{key: key, qtype: binary.BigEndian.Uint16(pkt[off:]), qend: off + 4, size: mdns.MinMsgSize}
	if binary.BigEndian.Uint16(pkt[10:]) == 0 {
		return q, q.qend == len(pkt)
	}
	// The OPT record: root name, type, UDP size as class, extended rcode,
	// version and flags as TTL, then its options.
	o := q.qend
	if o+11 > len(pkt) || pkt[o] != 0 || binary.BigEndian.Uint16(pkt[o+1:]) != mdns.TypeOPT || pkt[o+6] != 0 {
		return q, false
	}
	if o+11+int(binary.BigEndian.Uint16(pkt[o+9:])) != len(pkt) {
		return q, false
	}
	q.edns = true
	q.size = max(int(binary.BigEndian.Uint16(pkt[o+3:])), mdns.MinMsgSize)
	return q, true
}

// appendAnswer appends to out the answer to the query in pkt (parsed as
// q) made of wa; false when it would not fit the client's UDP size.
func appendAnswer(out, pkt []byte, q query, wa *wireAnswer) ([]byte, bool) {
	ar := wa.ar
	if q.edns {
		ar++
	}
	out = append(out, pkt[0], pkt[1],
		bitQR|bitAA|pkt[2]&bitRD, bitRA|pkt[3]&bitCD|byte(wa.rcode&0xF),
		0, 1, byte(wa.an>>8), byte(wa.an), byte(wa.ns>>8), byte(wa.ns), byte(ar>>8), byte(ar))
	out = append(out, pkt[12:q.qend]...)
	out = append(out, wa.tail...)
	if q.edns {
		out = append(out, 0, 0, byte(mdns.TypeOPT), byte(ednsSize>>8), byte(ednsSize&0xFF), 0, 0, 0, 0, 0, 0)
	}
	return out, len(out) <= q.size
}
