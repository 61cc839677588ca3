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
// They are writable by every user (sticky, as /tmp): the pod's tasks may
// run as different users and share them; nothing outside the pod reaches
// them, as the pods' directory cannot be listed.
func createVolumes(podDir string, vols []*structs.VolumeRequest) error {
	for _, v := range vols {
		if v.Type == structs.VolumeTypeHost {
			continue
		}
		dir := volumeHostPath(podDir, v)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("volume %q: %w", v.Name, err)
		}
		if err := os.Chmod(dir, 0o777|os.ModeSticky); err != nil {
			return fmt.Errorf("volume %q: %w", v.Name, err)
		}
	}
	return nil
}

// prepareDataDir lets tasks that run as other users reach their own
// directories below dataDir/pods, and nothing else: the data directory
// and the pods' directory can be passed through (x) but not listed; the
// agent's own files keep their modes.
func prepareDataDir(dataDir string) error {
	pods := filepath.Join(dataDir, "pods")
	if err := os.MkdirAll(pods, 0o711); err != nil {
		return fmt.Errorf("pods directory: %w", err)
	}
	st, err := os.Stat(dataDir)
	if err != nil {
		return err
	}
	if err := os.Chmod(dataDir, st.Mode().Perm()|0o111); err != nil {
		return fmt.Errorf("let tasks reach %s: %w", dataDir, err)
	}
	if err := os.Chmod(pods, 0o711); err != nil {
		return fmt.Errorf("let tasks reach %s: %w", pods, err)
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
