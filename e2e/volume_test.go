package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mk-orchestrator/mk/api"
	"github.com/mk-orchestrator/mk/jobspecs"
	"github.com/mk-orchestrator/mk/structs"
	"github.com/mk-orchestrator/mk/testutil"
)

// TestSharedVolumeExample runs jobspecs/examples/shared-volume.hcl on a
// real agent (the exec driver as a plugin): two exec tasks of one pod
// share an ephemeral volume mounted at different destinations. What the
// writer writes at /srv, the reader reads at /mnt (its log shows it) and
// may not write; commands run in either task see its mounts; the host
// sees the file in the pod's volume directory and neither mount. A volume
// that cannot be mounted fails its task with the reason in the pod status.
func TestSharedVolumeExample(t *testing.T) {
	a := testutil.NewClientAgent(t, "agent-1")
	cl := clientAt(t, a.Addr())
	job, err := jobspecs.ParseFile("../jobspecs/examples/shared-volume.hcl", jobspecs.ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	runJob(t, cl, job)
	pod := waitPods(t, cl, job.ID, 1, func(p *structs.Pod) bool { return running(p) && taskPID(p) > 0 })[0]
	want := "hello from " + pod.Name + "\n"

	testutil.WaitFor(t, 20*time.Second, func() (bool, error) {
		var logs bytes.Buffer
		if err := cl.PodLogs(context.Background(), pod.ID, "reader", false, false, &logs); err != nil {
			return false, err
		}
		return strings.Contains(logs.String(), want), fmt.Errorf("reader's log %q, want %q in it", logs.String(), want)
	})

	exec := func(task, script string) *structs.PodExecResult {
		t.Helper()
		res, err := cl.PodExec(context.Background(), pod.ID, &structs.PodExecBody{Task: task, Command: []string{"sh", "-c", script}})
		if err != nil {
			t.Fatalf("exec in %s: %v", task, err)
		}
		return res
	}
	if res := exec("writer", "cat /srv/index.html"); res.Stdout != want || res.ExitCode != 0 {
		t.Fatalf("exec in the writer = %+v", res)
	}
	res := exec("reader", "cat /mnt/index.html; echo x > /mnt/x")
	if res.Stdout != want || res.ExitCode == 0 || !strings.Contains(res.Stderr, "Read-only file system") {
		t.Fatalf("exec in the reader = %+v, want the file read and the write refused", res)
	}

	// On the host: the file is in the pod's volume directory (which
	// MK_VOLUME_shared names), and no mount of it is in the mount table.
	volDir := strings.TrimSpace(exec("writer", "echo $MK_VOLUME_shared").Stdout)
	if b, err := os.ReadFile(filepath.Join(volDir, "index.html")); err != nil || string(b) != want {
		t.Fatalf("host file %s = %q, %v; want %q", volDir, b, err, want)
	}
	mounts, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(mounts), "\n") {
		// Field 4 is the root of the mount in its filesystem: a bind
		// mount's source.
		if f := strings.Fields(line); len(f) > 4 && strings.HasSuffix(f[3], "/volumes/shared") {
			t.Fatalf("the host's mount table shows the pod's volume: %s", line)
		}
	}
	// The tasks stop like any others.
	stopJobAndWait(t, cl, job.ID, []*structs.Pod{pod})

	// A volume that cannot be mounted fails the task, and the pod status
	// says why.
	bad := sleeperJob("bad-volume", 1)
	missing := filepath.Join(t.TempDir(), "missing")
	bad.Groups[0].Volumes = []*structs.VolumeRequest{{Name: "data", Type: structs.VolumeTypeHost, Source: missing}}
	bad.Groups[0].Tasks[0].VolumeMounts = []*structs.VolumeMount{{Volume: "data", Destination: "/srv"}}
	runJob(t, cl, bad)
	reason := `volume "data": source ` + missing + ": no such file or directory"
	waitDriverFailure(t, cl, "bad-volume", reason)
}

// waitDriverFailure waits for a failed pod of job whose task "main" has a
// driver failure event with reason in its message. Failed pods are
// replaced (and fail again): any one will do.
func waitDriverFailure(t *testing.T, cl *api.Client, job, reason string) {
	t.Helper()
	testutil.WaitFor(t, 15*time.Second, func() (bool, error) {
		pods, _, err := cl.Pods(job, nil)
		if err != nil {
			return false, err
		}
		var events []string
		for _, p := range pods {
			ts := p.TaskStates["main"]
			if p.Phase != structs.PodPhaseFailed || ts == nil {
				continue
			}
			for _, e := range ts.Events {
				if e.Type == structs.TaskEventDriverErr && strings.Contains(e.Message, reason) {
					return true, nil
				}
				events = append(events, e.Type+": "+e.Message)
			}
		}
		return false, fmt.Errorf("no failed pod with %q; events of failed pods: %q", reason, events)
	})
}
