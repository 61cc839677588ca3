package autoscale

import (
	"strings"
	"testing"
	"time"
)

// step is one pass of an autoscaler: at (seconds from the start) the
// group has current pods and the metrics propose proposed.
type step struct {
	at       int
	current  int
	proposed int
	want     int
	held     string // a fragment of Decision.Held ("" : none)
	applied  bool   // the pass's count is written (Applied)
}

func TestHistoryDecide(t *testing.T) {
	policy := Policy{Min: 1, Max: 10, ScaleUpCooldown: 30 * time.Second, ScaleDownWindow: 5 * time.Minute}
	cases := []struct {
		name   string
		policy Policy
		steps  []step
	}{
		{"scale out at once on a first pass", policy, []step{
			{at: 0, current: 1, proposed: 3, want: 3},
		}},
		{"scale-out limited to max(2 × current, 4)", policy, []step{
			{at: 0, current: 1, proposed: 9, want: 4, held: "max(2 × 1, 4) = 4"},
		}},
		{"scale-out limited to twice the count", policy, []step{
			{at: 0, current: 3, proposed: 9, want: 6, held: "max(2 × 3, 4) = 6"},
		}},
		{"max respected", policy, []step{
			{at: 0, current: 8, proposed: 14, want: 10, held: "scaling.max is 10"},
		}},
		{"min respected", policy, []step{
			{at: 0, current: 1, proposed: 0, want: 1, held: "scaling.min is 1"},
		}},
		{"a first pass holds scale-in for a window", policy, []step{
			{at: 0, current: 4, proposed: 1, want: 4, held: "4 asked for within the last 5m0s"},
			{at: 299, current: 4, proposed: 1, want: 4, held: "scale-in stabilization"},
			{at: 301, current: 4, proposed: 1, want: 1},
		}},
		{"scale-in goes to the highest count within the window", policy, []step{
			{at: 0, current: 1, proposed: 4, want: 4, applied: true},
			{at: 60, current: 4, proposed: 3, want: 4, held: "4 asked for"},
			{at: 120, current: 4, proposed: 2, want: 4},
			{at: 301, current: 4, proposed: 1, want: 3, held: "3 asked for", applied: true},
			{at: 421, current: 3, proposed: 1, want: 1},
		}},
		{"scale-out cooldown after a scale", policy, []step{
			{at: 0, current: 1, proposed: 2, want: 2, applied: true},
			{at: 10, current: 2, proposed: 4, want: 2, held: "scale_up_cooldown (30s): the last scale was 10s ago"},
			{at: 31, current: 2, proposed: 4, want: 4},
		}},
		{"a user's count counts as a scale", policy, []step{
			{at: 0, current: 1, proposed: 1, want: 1},
			// The user scaled to 5: no scale-in for the window...
			{at: 400, current: 5, proposed: 1, want: 5, held: "5 asked for"},
			// ...and the user scaled to 2: no scale-out for the cooldown.
			{at: 500, current: 2, proposed: 6, want: 2, held: "scale_up_cooldown"},
			{at: 531, current: 2, proposed: 6, want: 4, held: "max(2 × 2, 4) = 4"},
		}},
		{"zero window and cooldown follow the metrics", Policy{Min: 0, Max: 5}, []step{
			{at: 0, current: 3, proposed: 3, want: 3},
			{at: 1, current: 3, proposed: 0, want: 0, applied: true},
			{at: 2, current: 0, proposed: 2, want: 2},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var h History
			start := time.Unix(1_000_000, 0)
			for i, s := range tc.steps {
				now := start.Add(time.Duration(s.at) * time.Second)
				h.Observe(now, s.current)
				d := h.Decide(now, s.current, s.proposed, tc.policy)
				if d.Desired != s.want || d.Current != s.current || d.Proposed != s.proposed {
					t.Fatalf("step %d: %+v; want desired %d", i, d, s.want)
				}
				if s.held == "" && d.Held != "" && d.Desired == s.proposed || s.held != "" && !strings.Contains(d.Held, s.held) {
					t.Fatalf("step %d: held %q; want %q", i, d.Held, s.held)
				}
				if s.applied {
					h.Applied(now, d.Desired)
				}
			}
		})
	}
}
