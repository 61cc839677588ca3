package ingress

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"
)

// Start listens on addr (host:port; port 0 picks a free one, see Addr)
// and serves until Stop.
func (p *Proxy) Start(addr string) error {
	p.srvMu.Lock()
	defer p.srvMu.Unlock()
	if p.server != nil {
		return errors.New("ingress: already started")
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("ingress: listen on %s: %w", addr, err)
	}
	p.server = &http.Server{Handler: p, ReadHeaderTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute,
		ErrorLog: p.rp.ErrorLog}
	p.addr = l.Addr().String()
	srv := p.server
	go func() {
		if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			p.logger.Error("ingress proxy stopped serving", "error", err)
		}
	}()
	p.logger.Info("listening", "addr", p.addr)
	return nil
}

// Addr is the address the proxy listens on, once started.
func (p *Proxy) Addr() string {
	p.srvMu.Lock()
	defer p.srvMu.Unlock()
	return p.addr
}

// Stop stops listening and waits up to 5 s for the requests in flight
// (upgraded connections, such as WebSockets, are not waited for).
func (p *Proxy) Stop() error {
	p.srvMu.Lock()
	defer p.srvMu.Unlock()
	if p.server == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := p.server.Shutdown(ctx)
	p.server = nil
	p.transport.CloseIdleConnections()
	if err != nil {
		return fmt.Errorf("ingress: stop: %w", err)
	}
	return nil
}
