package httpapi

import (
	"fmt"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync"
	"time"

	"github.com/mk-orchestrator/mk/server"
	"github.com/mk-orchestrator/mk/structs"
)

// forwarder proxies requests to another agent's HTTP API: a follower to
// the leader, a client-only agent to the servers.
type forwarder struct {
	// target picks the address to send a request to.
	target func() (string, error)
	// unreachable is told when target's address did not answer; it may
	// pick another one for the next try.
	unreachable func(addr string)
	// tries is how often a request without a body is sent before giving
	// up (to the next target each time).
	tries int
	// markHop sets X-Mk-Forwarded-By, so the receiver never forwards the
	// request again (at most one hop to the leader).
	markHop    string
	transport  *http.Transport
	writeError func(http.ResponseWriter, error)
}

func newTransport() *http.Transport {
	return &http.Transport{
		MaxIdleConnsPerHost:   256,
		IdleConnTimeout:       90 * time.Second,
		ResponseHeaderTimeout: maxWait + 30*time.Second,
	}
}

// newLeaderForwarder forwards to the leader. A request is forwarded at
// most once: if it reaches a server that is not the leader any more, that
// server answers 503 and the caller retries.
func newLeaderForwarder(srv *server.Server, writeError func(http.ResponseWriter, error)) *forwarder {
	return &forwarder{
		target:      srv.LeaderHTTPAddr,
		unreachable: func(string) {},
		tries:       1,
		markHop:     srv.Config().NodeName,
		transport:   newTransport(),
		writeError:  writeError,
	}
}

// newServersForwarder forwards a client-only agent's requests to one of
// its servers, moving on to the next when one does not answer. It marks
// no hop: the server it reaches may still forward to the leader.
func newServersForwarder(servers []string, writeError func(http.ResponseWriter, error)) *forwarder {
	list := &serverList{addrs: servers}
	return &forwarder{
		target:      list.current,
		unreachable: list.failed,
		tries:       len(servers),
		transport:   newTransport(),
		writeError:  writeError,
	}
}

func (f *forwarder) serve(w http.ResponseWriter, r *http.Request) {
	if by := r.Header.Get(HeaderForwarded); by != "" && f.markHop != "" {
		f.writeError(w, fmt.Errorf("%w: forwarded by %s but this server is not the leader", structs.ErrNoLeader, by))
		return
	}
	f.try(w, r, f.tries)
}

func (f *forwarder) try(w http.ResponseWriter, r *http.Request, tries int) {
	addr, err := f.target()
	if err != nil {
		f.writeError(w, err)
		return
	}
	proxy := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(&url.URL{Scheme: "http", Host: addr})
			if f.markHop != "" {
				pr.Out.Header.Set(HeaderForwarded, f.markHop)
			}
		},
		Transport:     f.transport,
		FlushInterval: -1,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			f.unreachable(addr)
			// Without a body the request can go again as it was.
			if tries > 1 && (r.Body == nil || r.Body == http.NoBody) && r.Context().Err() == nil {
				f.try(w, r, tries-1)
				return
			}
			f.writeError(w, fmt.Errorf("%w: forward to %s: %v", structs.ErrNoLeader, addr, err))
		},
	}
	proxy.ServeHTTP(w, r)
}

// serverList is the servers a client-only agent knows, with the one it
// uses now.
type serverList struct {
	mu    sync.Mutex
	addrs []string
	next  int
}

func (l *serverList) current() (string, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.addrs) == 0 {
		return "", fmt.Errorf("%w: no servers configured (client.servers)", structs.ErrNoLeader)
	}
	return l.addrs[l.next], nil
}

// failed moves on from addr, unless another request already did.
func (l *serverList) failed(addr string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.addrs) > 0 && l.addrs[l.next] == addr {
		l.next = (l.next + 1) % len(l.addrs)
	}
}
