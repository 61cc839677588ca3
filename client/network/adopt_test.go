package network

import (
	"path/filepath"
	"testing"
)

// TestCreatePodAdoptsNamespace: with NetNSFrom (a docker pause
// container's namespace) the pod's namespace is that one, pinned at the
// pod's usual path and plumbed as any other; the same call again keeps
// it, and destroying the pod unpins it but leaves the namespace to its
// owner.
func TestCreatePodAdoptsNamespace(t *testing.T) {
	e := newTestEnv(t, "10.42.3.0/24")
	owner := filepath.Join(t.TempDir(), "pause-ns")
	if err := NewNamespace(owner); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = RemoveNamespace(owner) })
	for i := 0; i < 2; i++ {
		pn, err := e.m.CreatePod(&PodRequest{ID: "pod-docker", Namespace: "default", NetNSFrom: owner})
		if err != nil {
			t.Fatal(err)
		}
		if !sameFile(owner, pn.NetNSPath) {
			t.Fatalf("try %d: %s is not the adopted namespace", i, pn.NetNSPath)
		}
	}
	h, err := openHandle(owner)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if _, err := h.LinkByName("eth0"); err != nil {
		t.Fatalf("no eth0 in the adopted namespace: %v", err)
	}
	if err := e.m.DestroyPod("pod-docker"); err != nil {
		t.Fatal(err)
	}
	if isNetNSMount(filepath.Join(e.stateDir, "pod-docker")) {
		t.Fatal("the pod's pin is still mounted")
	}
	if !isNetNSMount(owner) {
		t.Fatal("destroying the pod removed its owner's namespace")
	}
}
