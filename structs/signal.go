package structs

import (
	"strconv"
	"strings"
)

// signalNames are the Linux signals a task's kill_signal may name.
var signalNames = map[string]bool{
	"SIGHUP": true, "SIGINT": true, "SIGQUIT": true, "SIGILL": true, "SIGTRAP": true, "SIGABRT": true,
	"SIGBUS": true, "SIGFPE": true, "SIGKILL": true, "SIGUSR1": true, "SIGSEGV": true, "SIGUSR2": true,
	"SIGPIPE": true, "SIGALRM": true, "SIGTERM": true, "SIGSTKFLT": true, "SIGCHLD": true, "SIGCONT": true,
	"SIGSTOP": true, "SIGTSTP": true, "SIGTTIN": true, "SIGTTOU": true, "SIGURG": true, "SIGXCPU": true,
	"SIGXFSZ": true, "SIGVTALRM": true, "SIGPROF": true, "SIGWINCH": true, "SIGIO": true, "SIGPWR": true,
	"SIGSYS": true,
}

// ValidSignal reports whether s names a signal the drivers can send: a
// name with or without "SIG" in any case ("SIGINT", "int"), or a number
// from 1 to 64.
func ValidSignal(s string) bool {
	if n, err := strconv.Atoi(s); err == nil {
		return n > 0 && n < 65
	}
	name := strings.ToUpper(s)
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	return signalNames[name]
}
