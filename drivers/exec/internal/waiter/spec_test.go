package waiter

import (
	"reflect"
	"strings"
	"syscall"
	"testing"

	"github.com/mk-orchestrator/mk/drivers/exec/internal/mountns"
)

func TestSpecRoundTrip(t *testing.T) {
	for _, want := range []*Spec{
		{Argv: []string{"/bin/true"}, ExitFile: "/x/exit.json"},
		{
			Argv:     []string{"/bin/sh", "-c", "echo 'a b'\n=x", "", "ü"},
			Env:      []string{"A=1", "B=with=equals", "EMPTY="},
			Dir:      "/tmp/some dir",
			Cred:     &syscall.Credential{Uid: 65534, Gid: 65534, Groups: []uint32{1, 2}},
			ExitFile: "/x/.mk-exit-p_t.json",
		},
		{Argv: []string{"/bin/id"}, Cred: &syscall.Credential{}, ExitFile: "/e"},
		{Argv: []string{"/bin/ps"}, ExitFile: "/e", Isolate: true, Hostname: "web.web-0", NetNS: "/data/netns/pod-1"},
		{
			Argv:     []string{"/bin/cat", "/srv/index.html"},
			ExitFile: "/e",
			Mounts: []mountns.Mount{
				{Volume: "shared", Source: "/data/pods/p/volumes/shared", Target: "/srv"},
				{Volume: "certs", Source: "/etc/ssl/some certs", Target: "/srv/certs", ReadOnly: true},
				{Volume: "resolv.conf", Source: "/data/pods/p/resolv.conf", Target: "/etc/resolv.conf", File: true},
			},
		},
	} {
		got, err := DecodeSpec(want.Encode())
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("round trip = %+v, want %+v", got, want)
		}
	}
}

func TestDecodeSpecErrors(t *testing.T) {
	for in, want := range map[string]string{
		"":                          "no command",
		"exit\x00/e\x00":            "no command",
		"arg\x00/bin/true\x00":      "no command or exit file",
		"arg\x00/bin/true":          "unterminated",
		"arg\x00":                   "without a value",
		"nope\x00x\x00":             "unknown key",
		"uid\x00-1\x00arg\x00x\x00": "uid",
		"gid\x0099999999999\x00":    "gid",
		"mount-src\x00/x\x00":       "before any mount",
	} {
		_, err := DecodeSpec([]byte(in))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("DecodeSpec(%q) = %v, want an error with %q", in, err, want)
		}
	}
}

func TestExitOf(t *testing.T) {
	// Wait statuses as the kernel encodes them: exit code << 8, or the
	// signal in the low bits.
	if e := ExitOf(syscall.WaitStatus(7 << 8)); e != (Exit{ExitCode: 7}) {
		t.Fatalf("exit 7 = %+v", e)
	}
	if e := ExitOf(syscall.WaitStatus(9)); e != (Exit{ExitCode: 137, Signal: 9}) {
		t.Fatalf("SIGKILL = %+v", e)
	}
}
