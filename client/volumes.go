package client

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/mk-orchestrator/mk/drivers"
	"github.com/mk-orchestrator/mk/structs"
)

// A group's volumes on the node: an ephemeral volume is a directory in the
// pod's directory, made when the pod starts and shared by its tasks; a host
// volume is its source, which the node's operator provides. Tasks find them
// in MK_VOLUME_<name>, and the driver mounts them at their volume_mount
// destinations (drivers.TaskConfig.Mounts).

// volumeHostPath is where volume v of the pod in podDir lives on the host.
func volumeHostPath(podDir string, v *structs.VolumeRequest) string {
	if v.Type == structs.VolumeTypeHost {
		return v.Source
	}
	return filepath.Join(podDir, "volumes", v.Name)
}

// createVolumes makes the directories of the pod's ephemeral volumes.
func createVolumes(podDir string, vols []*structs.VolumeRequest) error {
	for _, v := range vols {
		if v.Type == structs.VolumeTypeHost {
			continue
		}
		if err := os.MkdirAll(volumeHostPath(podDir, v), 0o755); err != nil {
			return fmt.Errorf("volume %q: %w", v.Name, err)
		}
	}
	return nil
}

// taskMounts builds the driver's mounts of a task's volume_mounts. A mount
// is read-only when the volume_mount or the volume says so.
func taskMounts(podDir string, vols []*structs.VolumeRequest, vms []*structs.VolumeMount) ([]*drivers.MountConfig, error) {
	byName := make(map[string]*structs.VolumeRequest, len(vols))
	for _, v := range vols {
		byName[v.Name] = v
	}
	var out []*drivers.MountConfig
	for _, vm := range vms {
		v := byName[vm.Volume]
		if v == nil {
			// Validation refuses such jobs; a pod from an older server
			// fails with the reason rather than running without it.
			return nil, fmt.Errorf("volume_mount at %s: the group has no volume %q", vm.Destination, vm.Volume)
		}
		out = append(out, &drivers.MountConfig{
			Volume:   v.Name,
			HostPath: volumeHostPath(podDir, v),
			TaskPath: vm.Destination,
			ReadOnly: vm.ReadOnly || v.ReadOnly,
		})
	}
	return out, nil
}
