package command

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/hashicorp/cli"
)

// TestPodListFilters: the flags of mk pod list become the query the
// servers filter by; without -all it asks for recent pods only.
func TestPodListFilters(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want url.Values
	}{
		{"default hides old terminal pods", nil, url.Values{"recent": {"true"}}},
		{"-all shows them", []string{"-all"}, url.Values{}},
		{"filters", []string{"-job", "web", "-node", "n1", "-status", "failed"},
			url.Values{"job": {"web"}, "node": {"n1"}, "status": {"failed"}, "recent": {"true"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got url.Values
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				got = r.URL.Query()
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write([]byte("[]"))
			}))
			defer srv.Close()
			ui := cli.NewMockUi()
			cmd := &PodListCommand{Meta: Meta{Ui: ui}}
			if code := cmd.Run(append([]string{"-address", srv.URL}, tc.args...)); code != 0 {
				t.Fatalf("exit %d: %s", code, ui.ErrorWriter.String())
			}
			got.Del("namespace")
			if got.Encode() != tc.want.Encode() {
				t.Fatalf("query %q, want %q", got.Encode(), tc.want.Encode())
			}
		})
	}
}
