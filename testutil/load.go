package testutil

import (
	"context"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// HTTPLoad sends GET requests to a URL at a fixed rate, each in its own
// goroutine (an open loop: a slow answer does not slow the load), as a
// stream of users would. The autoscaling test and benchmark load a
// service with it.
type HTTPLoad struct {
	// OK and Failed count the requests answered 2xx and the others.
	OK, Failed atomic.Int64

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// StartHTTPLoad sends perSecond requests a second to url until Stop.
func StartHTTPLoad(url string, perSecond int) *HTTPLoad {
	ctx, cancel := context.WithCancel(context.Background())
	l := &HTTPLoad{cancel: cancel}
	// A connection per request, as many users make: each goes to a
	// backend of its own (a proxy balances connections, not requests),
	// and none outlives the backend it reached.
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		ticker := time.NewTicker(time.Second / time.Duration(perSecond))
		defer ticker.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-ticker.C:
			}
			l.wg.Add(1)
			go func() {
				defer l.wg.Done()
				l.get(ctx, client, url)
			}()
		}
	}()
	return l
}

func (l *HTTPLoad) get(ctx context.Context, client *http.Client, url string) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		l.Failed.Add(1)
		return
	}
	resp, err := client.Do(req)
	if err != nil {
		l.Failed.Add(1)
		return
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode/100 == 2 {
		l.OK.Add(1)
	} else {
		l.Failed.Add(1)
	}
}

// Stop ends the load and waits for the requests in flight.
func (l *HTTPLoad) Stop() {
	l.cancel()
	l.wg.Wait()
}
