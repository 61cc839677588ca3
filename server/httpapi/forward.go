package httpapi

import (
	"fmt"
	"net/http"
	"net/http/httputil"
	"net/url"
	"time"

	"github.com/mk-orchestrator/mk/server"
	"github.com/mk-orchestrator/mk/structs"
)

// forwarder proxies requests that must run on the leader to its HTTP API.
// A request is forwarded at most once: if it reaches a server that is not
// the leader any more, that server answers 503 and the caller retries.
type forwarder struct {
	srv        *server.Server
	transport  *http.Transport
	writeError func(http.ResponseWriter, error)
}

func newForwarder(srv *server.Server, writeError func(http.ResponseWriter, error)) *forwarder {
	return &forwarder{
		srv: srv,
		transport: &http.Transport{
			MaxIdleConnsPerHost:   256,
			IdleConnTimeout:       90 * time.Second,
			ResponseHeaderTimeout: maxWait + 30*time.Second,
		},
		writeError: writeError,
	}
}

func (f *forwarder) serve(w http.ResponseWriter, r *http.Request) {
	if by := r.Header.Get(HeaderForwarded); by != "" {
		f.writeError(w, fmt.Errorf("%w: forwarded by %s but this server is not the leader", structs.ErrNoLeader, by))
		return
	}
	addr, err := f.srv.LeaderHTTPAddr()
	if err != nil {
		f.writeError(w, err)
		return
	}
	target := &url.URL{Scheme: "http", Host: addr}
	proxy := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Header.Set(HeaderForwarded, f.srv.Config().NodeName)
		},
		Transport:     f.transport,
		FlushInterval: -1,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			f.writeError(w, fmt.Errorf("%w: forward to leader %s: %v", structs.ErrNoLeader, addr, err))
		},
	}
	proxy.ServeHTTP(w, r)
}
