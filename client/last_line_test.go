package client

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLastLine(t *testing.T) {
	long := strings.Repeat("x", 300)
	cases := []struct {
		name, content, want string
	}{
		{"empty", "", ""},
		{"one line", "bind: Address already in use\n", "bind: Address already in use"},
		{"trailing blank lines", "first\nsecond\n\n\n", "second"},
		{"no newline", "a\nb", "b"},
		{"long", long + "\n", strings.Repeat("x", maxOutputLen) + "…"},
		{"past the window", strings.Repeat("y\n", 5000) + "last\n", "last"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "stderr.log")
			if err := os.WriteFile(p, []byte(tc.content), 0o644); err != nil {
				t.Fatal(err)
			}
			if got := lastLine(p); got != tc.want {
				t.Fatalf("lastLine = %q, want %q", got, tc.want)
			}
		})
	}
	if got := lastLine(filepath.Join(t.TempDir(), "missing")); got != "" {
		t.Fatalf("missing file: %q", got)
	}
}
