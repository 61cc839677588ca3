package structs

import (
	"bytes"
	"strings"
	"testing"
)

func TestBatchRoundTrip(t *testing.T) {
	cmds := [][]byte{
		{uint8(JobRegisterRequestType), 0x80},
		bytes.Repeat([]byte{uint8(PodsUpsertRequestType)}, 300), // a length of two uvarint bytes
		{uint8(NodeStatusRequestType)},
	}
	var entry []byte
	for _, c := range cmds {
		entry = AppendBatch(entry, c)
	}
	if MessageType(entry[0]) != BatchRequestType {
		t.Fatalf("entry type %d, want %d", entry[0], BatchRequestType)
	}
	got, err := SplitBatch(entry[1:])
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(cmds) {
		t.Fatalf("%d commands, want %d", len(got), len(cmds))
	}
	for i := range cmds {
		if !bytes.Equal(got[i], cmds[i]) {
			t.Errorf("command %d: %x, want %x", i, got[i], cmds[i])
		}
	}
	// A command must not reach into the next one's bytes when appended to.
	if cap(got[0]) != len(got[0]) {
		t.Errorf("command 0 has capacity %d beyond its length %d", cap(got[0]), len(got[0]))
	}
}

func TestSplitBatchRejectsBadEntries(t *testing.T) {
	valid := AppendBatch(nil, []byte{1, 2, 3})[1:]
	for name, tc := range map[string]struct {
		buf  []byte
		want string
	}{
		"empty":           {nil, "no commands"},
		"truncated":       {valid[:len(valid)-1], "command 0: bad length"},
		"zero length":     {[]byte{0}, "command 0: bad length"},
		"bad uvarint":     {[]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, "command 0: bad length"},
		"second too long": {append(append([]byte{}, valid...), 9, 1), "command 1: bad length"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := SplitBatch(tc.buf)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("SplitBatch: %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// FuzzSplitBatch: no payload panics SplitBatch, and the commands of one it
// accepts encode again to a batch that splits into the same commands.
func FuzzSplitBatch(f *testing.F) {
	f.Add(AppendBatch(AppendBatch(nil, []byte{1, 2}), []byte{3})[1:])
	f.Add([]byte{0x81, 0x00, 7})
	f.Add([]byte{0xff})
	f.Fuzz(func(t *testing.T, buf []byte) {
		cmds, err := SplitBatch(buf)
		if err != nil {
			return
		}
		var again []byte
		for _, c := range cmds {
			if len(c) == 0 {
				t.Fatal("an empty command was accepted")
			}
			again = AppendBatch(again, c)
		}
		cmds2, err := SplitBatch(again[1:])
		if err != nil || len(cmds2) != len(cmds) {
			t.Fatalf("re-encoded batch: %d commands, %v; want %d", len(cmds2), err, len(cmds))
		}
		for i := range cmds {
			if !bytes.Equal(cmds[i], cmds2[i]) {
				t.Fatalf("command %d changed: %x, then %x", i, cmds[i], cmds2[i])
			}
		}
	})
}
