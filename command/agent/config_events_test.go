package agent

import (
	"strings"
	"testing"
)

func TestServerEventsConfig(t *testing.T) {
	tests := []struct {
		name, body string
		size       int
		wantErr    string
	}{
		{"default", "", 0, ""},
		{"set", "  event_buffer_size = 100000\n", 100000, ""},
		{"zero", "  event_buffer_size = 0\n", 0, "server.event_buffer_size: must be > 0, got 0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseConfig("a.hcl", []byte("name = \"a\"\ndata_dir = \"/tmp/x\"\nserver {\n  enabled = true\n"+tc.body+"}\n"))
			if err != nil {
				t.Fatal(err)
			}
			sc, err := c.ToServerConfig()
			switch {
			case tc.wantErr != "":
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got %v, want an error containing %q", err, tc.wantErr)
				}
			case err != nil:
				t.Fatal(err)
			case sc.EventBufferSize != tc.size:
				t.Fatalf("event buffer size %d, want %d", sc.EventBufferSize, tc.size)
			}
		})
	}
}
