package command

import "testing"

func TestTailLines(t *testing.T) {
	tests := []struct {
		name         string
		tail, follow bool
		n            int
		want         int
		wantErr      bool
	}{
		{"whole log", false, false, -1, 0, false},
		{"-tail", true, false, -1, defaultTailLines, false},
		{"-f starts at the end", false, true, -1, defaultTailLines, false},
		{"-tail -n 50", true, false, 50, 50, false},
		{"-n alone implies -tail", false, false, 3, 3, false},
		{"-f -n 2", false, true, 2, 2, false},
		{"-n 0", true, false, 0, 0, true},
		{"-n -5", true, false, -5, 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tailLines(tc.tail, tc.follow, tc.n)
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Fatalf("tailLines(%v, %v, %d) = %d, %v; want %d (error %v)", tc.tail, tc.follow, tc.n, got, err, tc.want, tc.wantErr)
			}
		})
	}
}
