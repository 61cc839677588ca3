// Package poll waits on conditions with deadlines. It imports nothing of
// mk, so tests inside the packages that testutil's clusters build on (the
// server itself) can use it too.
package poll

import (
	"fmt"
	"testing"
	"time"
)

// WaitFor polls cond until it returns true or the deadline passes, then
// fails the test with cond's last error. Polling backs off from 10 ms to
// 200 ms so fast conditions return fast.
func WaitFor(t testing.TB, deadline time.Duration, cond func() (bool, error)) {
	t.Helper()
	if err := Wait(deadline, cond); err != nil {
		t.Fatal(err)
	}
}

// Wait is WaitFor without a testing.TB, for benchmarks and tools.
func Wait(deadline time.Duration, cond func() (bool, error)) error {
	end := time.Now().Add(deadline)
	delay := 10 * time.Millisecond
	var lastErr error
	for {
		ok, err := cond()
		if ok {
			return nil
		}
		lastErr = err
		if time.Now().After(end) {
			return fmt.Errorf("condition not met within %s: %v", deadline, lastErr)
		}
		time.Sleep(delay)
		delay = min(delay*2, 200*time.Millisecond)
	}
}
