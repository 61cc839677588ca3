package e2e

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// exampleNeeds returns the first comment line of an example job file,
// which says what it needs: "# Runs anywhere" or "# Needs ...".
func exampleNeeds(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Scan()
	return sc.Text()
}

// TestExamples: every example job says in its first comment what it
// needs; those that run anywhere run to success on `mk agent -dev`, and
// those that need what this machine or mk lacks do not claim success.
func TestExamples(t *testing.T) {
	files, err := filepath.Glob("../jobspecs/examples/*.hcl")
	if err != nil || len(files) == 0 {
		t.Fatalf("no examples: %v", err)
	}
	// Examples that run with docker run here: the test readies the Engine.
	requireDocker(t)
	addr := devAgent(t)
	ran := 0
	for _, path := range files {
		name := filepath.Base(path)
		needs := exampleNeeds(t, path)
		switch {
		case strings.HasPrefix(needs, "# Runs anywhere"):
			stdout, stderr, code := runMk(t, addr, "job", "run", name)
			if code != 0 {
				t.Errorf("%s: exit %d\nstdout:\n%s\nstderr:\n%s", name, code, stdout, stderr)
			}
			ran++
		case strings.HasPrefix(needs, "# Needs "):
			if _, stderr, code := runMk(t, addr, "job", "run", name); code == 0 {
				t.Errorf("%s (%s) ran here: exit 0\n%s", name, needs, stderr)
			}
		default:
			t.Errorf("%s: the first comment %q says neither \"Runs anywhere\" nor \"Needs ...\"", name, needs)
		}
	}
	if ran < 4 {
		t.Fatalf("%d examples run anywhere, want at least batch, hello-exec, shared-volume and system", ran)
	}
}

// TestGPUExamples runs gpu-matmul.hcl and gpu-add.hcl through a real
// Slurm with `mk job run`: each builds its CUDA source with nvcc where
// there are nvcc and a GPU, else the CPU fallback of the same source, and
// its log says which it ran and the checksum, which is the same either
// way (computed here too).
func TestGPUExamples(t *testing.T) {
	_, a, cl := slurmAgent(t, 2)
	cases := []struct {
		file, job, prefix string
		checksum          int64
	}{
		{"gpu-matmul.hcl", "matmul", "matmul", matmulChecksum(256)},
		{"gpu-add.hcl", "add", "add", addChecksum(1 << 20)},
	}
	for _, tc := range cases {
		stdout, stderr, code := runMk(t, a.Addr(), "job", "run", tc.file)
		if code != 0 {
			t.Fatalf("%s: exit %d\nstdout:\n%s\nstderr:\n%s", tc.file, code, stdout, stderr)
		}
		pods, _, err := cl.Pods(tc.job, nil)
		if err != nil || len(pods) != 1 {
			t.Fatalf("%s: %d pods: %v", tc.job, len(pods), err)
		}
		logs, _, _ := runMk(t, a.Addr(), "pod", "logs", pods[0].ID)
		device := "cpu"
		if strings.Contains(logs, "device=gpu") {
			device = "gpu"
		}
		want := fmt.Sprintf("%s: device=%s n=", tc.prefix, device)
		sum := fmt.Sprintf(" checksum=%d mismatches=0 ", tc.checksum)
		if !strings.Contains(logs, want) || !strings.Contains(logs, sum) {
			t.Errorf("%s: log lacks %q and %q:\n%s", tc.file, want, sum, logs)
		}
	}
}

// matmulChecksum is the sum of the entries of matmul.cu's product of n x n
// matrices.
func matmulChecksum(n int) int64 {
	var sum int64
	// sum_ij sum_k a[i][k] b[k][j] = sum_k (sum_i a[i][k]) (sum_j b[k][j])
	for k := 0; k < n; k++ {
		var col, row int64
		for i := 0; i < n; i++ {
			col += int64((i*n+k)%9 - 2)
		}
		for j := 0; j < n; j++ {
			row += int64((k*n+j)%4 + 1)
		}
		sum += col * row
	}
	return sum
}

// addChecksum is the sum of add.cu's result for vectors of n.
func addChecksum(n int) int64 {
	var sum int64
	for i := 0; i < n; i++ {
		sum += int64(i%1000 + 2*(i%777))
	}
	return sum
}
