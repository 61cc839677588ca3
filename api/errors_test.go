package api

import (
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
)

// closedAddress returns the address of a port nothing listens on.
func closedAddress(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := "http://" + ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

func TestClientErrors(t *testing.T) {
	notMk := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.NotFound(w, r)
	}))
	defer notMk.Close()
	mk := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"error":"job \"x\" not found"}`))
	}))
	defer mk.Close()
	closed := closedAddress(t)

	tests := []struct {
		name     string
		address  string
		want     string
		notAgent bool
		status   int // of the *Error found with errors.As; 0: none
	}{
		{"nothing listens", closed, "no mk agent at " + closed + " (connection refused)", false, 0},
		{"not mk", notMk.URL, notMk.URL + " is not an mk agent (HTTP 404 without mk's error body)", true, 404},
		{"mk error", mk.URL, `job "x" not found`, false, 404},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := NewClient(Config{Address: tc.address})
			if err != nil {
				t.Fatal(err)
			}
			_, _, err = c.Job("x", nil)
			if err == nil || err.Error() != tc.want {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
			var unreachable *UnreachableError
			if got := errors.As(err, &unreachable); got != (tc.address == closed) {
				t.Errorf("errors.As(*UnreachableError) = %v", got)
			}
			var notAgent *NotAgentError
			if got := errors.As(err, &notAgent); got != tc.notAgent {
				t.Errorf("errors.As(*NotAgentError) = %v, want %v", got, tc.notAgent)
			}
			var apiErr *Error
			if ok := errors.As(err, &apiErr); ok != (tc.status != 0) || ok && apiErr.StatusCode != tc.status {
				t.Errorf("errors.As(*Error) = %v %+v, want status %d", ok, apiErr, tc.status)
			}
		})
	}
}
