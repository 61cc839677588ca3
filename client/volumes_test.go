package client

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/mk-orchestrator/mk/drivers"
	"github.com/mk-orchestrator/mk/structs"
)

func TestTaskMounts(t *testing.T) {
	vols := []*structs.VolumeRequest{
		{Name: "shared", Type: structs.VolumeTypeEphemeral},
		{Name: "certs", Type: structs.VolumeTypeHost, Source: "/etc/ssl/certs", ReadOnly: true},
		{Name: "data", Type: structs.VolumeTypeHost, Source: "/srv/data"},
	}
	got, err := taskMounts("/pods/p1", vols, []*structs.VolumeMount{
		{Volume: "shared", Destination: "/srv"},
		{Volume: "shared", Destination: "/www", ReadOnly: true},
		{Volume: "certs", Destination: "/certs"},
		{Volume: "data", Destination: "/data"},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []*drivers.MountConfig{
		{Volume: "shared", HostPath: "/pods/p1/volumes/shared", TaskPath: "/srv"},
		{Volume: "shared", HostPath: "/pods/p1/volumes/shared", TaskPath: "/www", ReadOnly: true},
		{Volume: "certs", HostPath: "/etc/ssl/certs", TaskPath: "/certs", ReadOnly: true},
		{Volume: "data", HostPath: "/srv/data", TaskPath: "/data"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("mounts = %+v, want %+v", got, want)
	}
	if got, err := taskMounts("/pods/p1", vols, nil); err != nil || got != nil {
		t.Fatalf("no volume_mounts = %v, %v; want none", got, err)
	}
	_, err = taskMounts("/pods/p1", vols, []*structs.VolumeMount{{Volume: "nope", Destination: "/x"}})
	if err == nil || !strings.Contains(err.Error(), `no volume "nope"`) {
		t.Fatalf("unknown volume: err = %v", err)
	}
}

func TestCreateVolumesMakesOnlyEphemeral(t *testing.T) {
	pod := t.TempDir()
	vols := []*structs.VolumeRequest{
		{Name: "shared", Type: structs.VolumeTypeEphemeral},
		{Name: "host", Type: structs.VolumeTypeHost, Source: filepath.Join(pod, "not-made")},
	}
	if err := createVolumes(pod, vols); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Join(pod, "volumes", "shared")); err != nil || !fi.IsDir() {
		t.Fatalf("ephemeral volume dir: %v", err)
	}
	for _, p := range []string{filepath.Join(pod, "volumes", "host"), filepath.Join(pod, "not-made")} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Fatalf("%s was made for a host volume: %v", p, err)
		}
	}
}
