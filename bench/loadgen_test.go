//go:build bench

package bench

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// rawPoster sends POSTs over one kept-alive HTTP/1.1 connection, one at a
// time, as wrk does: no net/http Transport, whose pool, goroutines and
// channels cost the load generator several times the CPU per request. The
// writers run on the same two cores as the servers under test, so what
// the generator spends is taken from them.
type rawPoster struct {
	addr string // host:port
	conn net.Conn
	br   *bufio.Reader
	req  []byte // reused request buffer
}

func newRawPoster(base string) (*rawPoster, error) {
	u, err := url.Parse(base)
	if err != nil {
		return nil, fmt.Errorf("load generator address %q: %w", base, err)
	}
	return &rawPoster{addr: u.Host}, nil
}

// post sends body to path and reads the whole answer; non-2xx is an error.
// A broken connection is dialled again on the next call.
func (p *rawPoster) post(path string, body []byte) error {
	if p.conn == nil {
		conn, err := net.DialTimeout("tcp", p.addr, 5*time.Second)
		if err != nil {
			return err
		}
		p.conn, p.br = conn, bufio.NewReaderSize(conn, 4096)
	}
	p.req = append(p.req[:0], "POST "...)
	p.req = append(p.req, path...)
	p.req = append(p.req, " HTTP/1.1\r\nHost: "...)
	p.req = append(p.req, p.addr...)
	p.req = append(p.req, "\r\nContent-Type: application/json\r\nContent-Length: "...)
	p.req = strconv.AppendInt(p.req, int64(len(body)), 10)
	p.req = append(p.req, "\r\n\r\n"...)
	p.req = append(p.req, body...)
	err := p.roundTrip(path)
	if err != nil {
		p.close()
	}
	return err
}

func (p *rawPoster) roundTrip(path string) error {
	_ = p.conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := p.conn.Write(p.req); err != nil {
		return err
	}
	resp, err := http.ReadResponse(p.br, nil)
	if err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil {
		return err
	}
	if resp.Close {
		p.close()
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("POST %s: %s", path, resp.Status)
	}
	return nil
}

func (p *rawPoster) close() {
	if p.conn != nil {
		p.conn.Close()
		p.conn = nil
	}
}
