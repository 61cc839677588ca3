// Package version holds mk's version, set at build time with
// -ldflags "-X github.com/mk-orchestrator/mk/version.GitCommit=...".
package version

// Version is the release version of mk.
const Version = "0.1.0"

// GitCommit is the commit mk was built from, set by the build.
var GitCommit = "unknown"

// String returns the version as `mk version` prints it.
func String() string { return "mk v" + Version + " (" + GitCommit + ")" }
