package client

import (
	"bytes"
	"io"
	"os"
	"unicode/utf8"
)

// lastLineWindow is how much of the end of a log lastLine reads.
const lastLineWindow = 4096

// maxOutputLen bounds the stderr line kept in a task event and the
// output kept in a check status.
const maxOutputLen = 200

// lastLine returns the last non-empty line of a log file, shortened to
// maxOutputLen, or "" when there is none: the line a task wrote last
// before it exited is usually why it exited.
func lastLine(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return ""
	}
	off := max(st.Size()-lastLineWindow, 0)
	buf := make([]byte, st.Size()-off)
	if _, err := f.ReadAt(buf, off); err != nil && err != io.EOF {
		return ""
	}
	lines := bytes.Split(bytes.TrimRight(buf, "\r\n\t "), []byte("\n"))
	return shorten(string(bytes.TrimSpace(lines[len(lines)-1])))
}

// shorten cuts a line to maxOutputLen bytes (on a rune boundary), marking
// the cut with "…".
func shorten(line string) string {
	if len(line) <= maxOutputLen {
		return line
	}
	line = line[:maxOutputLen]
	for !utf8.ValidString(line) {
		line = line[:len(line)-1]
	}
	return line + "…"
}
