package client

import (
	"fmt"
	"strings"
	"testing"
)

func TestTailOffset(t *testing.T) {
	long := strings.Repeat("x", tailChunk+7) + "\n"
	tests := []struct {
		name string
		log  string
		n    int
		want string // the log from the offset on
	}{
		{"empty", "", 3, ""},
		{"fewer lines", "a\nb\n", 3, "a\nb\n"},
		{"exactly n", "a\nb\nc\n", 3, "a\nb\nc\n"},
		{"last two", "a\nb\nc\n", 2, "b\nc\n"},
		{"last one", "a\nb\nc\n", 1, "c\n"},
		{"unterminated last line", "a\nb\nc", 2, "b\nc"},
		{"blank lines count", "a\n\n\n", 2, "\n\n"},
		{"across chunks", "first\n" + long + long + "end\n", 2, long + "end\n"},
		{"line longer than a chunk", "first\n" + long, 1, long},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			off, err := tailOffset(strings.NewReader(tc.log), int64(len(tc.log)), tc.n)
			if err != nil {
				t.Fatal(err)
			}
			if got := tc.log[off:]; got != tc.want {
				t.Fatalf("offset %d: got %s, want %s", off, abbrev(got), abbrev(tc.want))
			}
		})
	}
}

func abbrev(s string) string {
	if len(s) > 40 {
		return fmt.Sprintf("%q... (%d bytes)", s[:40], len(s))
	}
	return fmt.Sprintf("%q", s)
}
