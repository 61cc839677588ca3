package docker

import (
	"archive/tar"
	"context"
	"debug/elf"
	"fmt"
	"io"
	"os"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"

	"github.com/mk-orchestrator/mk/drivers"
	"github.com/mk-orchestrator/mk/version"
)

// PauseImage is the image of pause containers, built by the driver from
// mk's own binary.
var PauseImage = "mk/pause:" + version.Version

// pauseSpec is the pod's pause container: `mk pause` with networking
// disabled. The Engine then leaves the network to runc, which gives the
// container a new, empty namespace (only lo, down: the client's plumbing
// brings it up); network "none" instead has libnetwork make a sandbox for
// it, which made the pause container's start twice as slow (measured on
// Docker 20.10: 270 -> 125 ms) for a namespace the client plumbs anyway.
// Tasks join it as container:<pause> all the same.
func pauseSpec(req *drivers.NetworkRequest) *containerSpec {
	return &containerSpec{
		Name: containerName(req.PodID, rolePause),
		Config: &container.Config{Image: PauseImage, NetworkDisabled: true,
			Labels: labels(nil, req.NodeID, req.PodID, req.JobID, "", rolePause)},
		Host: &container.HostConfig{NetworkMode: "none", Resources: container.Resources{Memory: 32 << 20}},
	}
}

// CreateNetwork makes the pod's pause container (see pauseSpec), or
// returns the running one it has, and returns its network namespace for
// the client to plumb. The images of the pod's tasks are checked (and
// pulled) meanwhile.
func (d *Driver) CreateNetwork(ctx context.Context, req *drivers.NetworkRequest) (*drivers.NetworkSpec, error) {
	if !d.apiSettled.Load() {
		_ = d.ping(ctx) // the image checks run beside what follows; an error shows below
	}
	d.prepareImages(req)
	if id, err := d.findPause(ctx, req.PodID); err == nil {
		return d.pauseNetwork(ctx, req.PodID, id)
	}
	if err := d.ensurePauseImage(ctx); err != nil {
		return nil, fmt.Errorf("create network of pod %s: %w", req.PodID, err)
	}
	spec := pauseSpec(req)
	id, err := d.create(ctx, spec, req.PodID, rolePause, rolePause)
	if err != nil {
		return nil, fmt.Errorf("create network of pod %s: %w", req.PodID, err)
	}
	if err := d.docker.ContainerStart(ctx, id, container.StartOptions{}); err != nil {
		d.removeContainer(id)
		return nil, fmt.Errorf("create network of pod %s: start pause container: %w", req.PodID, err)
	}
	return d.pauseNetwork(ctx, req.PodID, id)
}

// pauseNetwork is the network of a running pause container, which the
// driver remembers for the pod's tasks.
func (d *Driver) pauseNetwork(ctx context.Context, podID, id string) (*drivers.NetworkSpec, error) {
	info, err := d.docker.ContainerInspect(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("inspect pause container: %w", err)
	}
	if info.State == nil || !info.State.Running || info.State.Pid <= 0 {
		return nil, fmt.Errorf("pause container %s is not running", id[:12])
	}
	d.mu.Lock()
	d.pauses[podID] = id
	d.mu.Unlock()
	return &drivers.NetworkSpec{NetNSPath: fmt.Sprintf("/proc/%d/ns/net", info.State.Pid), SandboxID: id}, nil
}

// DestroyNetwork removes the pod's pause container(s).
func (d *Driver) DestroyNetwork(ctx context.Context, podID string) error {
	d.forgetPause(podID)
	d.forgetImages(podID)
	list, err := d.docker.ContainerList(ctx, container.ListOptions{All: true, Filters: filters.NewArgs(
		filters.Arg("label", LabelPod+"="+podID), filters.Arg("label", LabelRole+"="+rolePause))})
	if err != nil {
		return fmt.Errorf("destroy network of pod %s: %w", podID, err)
	}
	for _, c := range list {
		err := d.docker.ContainerRemove(ctx, c.ID, container.RemoveOptions{Force: true, RemoveVolumes: true})
		if err != nil && !cerrdefs.IsNotFound(err) {
			return fmt.Errorf("destroy network of pod %s: remove pause container: %w", podID, err)
		}
	}
	return nil
}

// podPause is the pod's pause container: the one CreateNetwork made or
// found, else (a plugin restarted since) the running one the Engine has.
func (d *Driver) podPause(ctx context.Context, podID string) (string, error) {
	d.mu.RLock()
	id, ok := d.pauses[podID]
	d.mu.RUnlock()
	if ok {
		return id, nil
	}
	return d.findPause(ctx, podID)
}

func (d *Driver) forgetPause(podID string) {
	d.mu.Lock()
	delete(d.pauses, podID)
	d.mu.Unlock()
}

// findPause returns the pod's running pause container.
func (d *Driver) findPause(ctx context.Context, podID string) (string, error) {
	list, err := d.docker.ContainerList(ctx, container.ListOptions{Filters: filters.NewArgs(
		filters.Arg("label", LabelPod+"="+podID), filters.Arg("label", LabelRole+"="+rolePause))})
	if err != nil {
		return "", fmt.Errorf("find the pause container of pod %s: %w", podID, err)
	}
	if len(list) == 0 {
		return "", fmt.Errorf("pod %s has no running pause container", podID)
	}
	return list[0].ID, nil
}

// ensurePauseImage imports the pause image when the node lacks it: a
// rootfs holding only mk's static binary, run as `mk pause`.
func (d *Driver) ensurePauseImage(ctx context.Context) error {
	d.pauseMu.Lock()
	defer d.pauseMu.Unlock()
	if _, err := d.docker.ImageInspect(ctx, PauseImage); err == nil {
		return nil
	} else if !cerrdefs.IsNotFound(err) {
		return fmt.Errorf("inspect image %s: %w", PauseImage, err)
	}
	bin := d.cfg.PauseBinary
	if bin == "" {
		exe, err := os.Executable()
		if err != nil {
			return fmt.Errorf("build %s: find mk's binary: %w", PauseImage, err)
		}
		bin = exe
	}
	if err := checkStatic(bin); err != nil {
		return fmt.Errorf("build %s: %w", PauseImage, err)
	}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(writeRootfs(pw, bin)) }()
	rc, err := d.docker.ImageImport(ctx, image.ImportSource{Source: pr, SourceName: "-"}, PauseImage,
		image.ImportOptions{Changes: []string{`ENTRYPOINT ["/mk", "pause"]`}})
	if err != nil {
		pr.CloseWithError(err)
		return fmt.Errorf("build %s: import: %w", PauseImage, err)
	}
	defer rc.Close()
	if _, err := io.Copy(io.Discard, rc); err != nil {
		return fmt.Errorf("build %s: import: %w", PauseImage, err)
	}
	d.logger.Info("built the pause image", "image", PauseImage, "binary", bin)
	return nil
}

// checkStatic refuses a binary that needs a dynamic loader: the pause
// image holds nothing else.
func checkStatic(path string) error {
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("%s is dynamically linked; build mk with CGO_ENABLED=0 (make build)", path)
		}
	}
	return nil
}

// writeRootfs writes a tar of a rootfs with the binary at /mk.
func writeRootfs(w io.Writer, bin string) error {
	f, err := os.Open(bin)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	tw := tar.NewWriter(w)
	now := time.Now()
	if err := tw.WriteHeader(&tar.Header{Name: "mk", Mode: 0o755, Size: st.Size(), ModTime: now, Typeflag: tar.TypeReg}); err != nil {
		return err
	}
	if _, err := io.Copy(tw, f); err != nil {
		return err
	}
	return tw.Close()
}

// reconcileGrace spares containers younger than this from Reconcile: the
// client's list of live pods was taken a moment before the call, and a
// pod it did not list yet may be starting (container creation times are
// whole seconds).
const reconcileGrace = 3 * time.Second

// Reconcile removes the containers (tasks and pause containers) that
// carry mk's labels for node nodeID but belong to none of livePods.
func (d *Driver) Reconcile(ctx context.Context, nodeID string, livePods []string) ([]string, error) {
	cutoff := time.Now().Add(-reconcileGrace).Unix()
	live := make(map[string]bool, len(livePods))
	for _, p := range livePods {
		live[p] = true
	}
	list, err := d.docker.ContainerList(ctx, container.ListOptions{All: true, Filters: filters.NewArgs(
		filters.Arg("label", LabelManaged+"=true"), filters.Arg("label", LabelNode+"="+nodeID))})
	if err != nil {
		return nil, fmt.Errorf("reconcile containers: %w", err)
	}
	var removed []string
	for _, c := range list {
		if live[c.Labels[LabelPod]] || c.Created > cutoff {
			continue
		}
		err := d.docker.ContainerRemove(ctx, c.ID, container.RemoveOptions{Force: true, RemoveVolumes: true})
		if err != nil && !cerrdefs.IsNotFound(err) {
			return removed, fmt.Errorf("reconcile containers: remove %s: %w", c.ID[:12], err)
		}
		name := c.ID[:12]
		if len(c.Names) > 0 {
			name = c.Names[0]
		}
		d.logger.Info("removed a container of a pod that is gone", "container", name, "pod", c.Labels[LabelPod])
		removed = append(removed, name)
	}
	return removed, nil
}
