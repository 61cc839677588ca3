package docker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/image"

	"github.com/mk-orchestrator/mk/structs"
)

// ensureImage makes ref present on the node as policy says: "never" only
// checks, "if-not-present" (the default) pulls when absent, "always"
// pulls. A pull is bounded by the driver's pull timeout and fails with
// the registry's error.
func (d *Driver) ensureImage(ctx context.Context, ref, policy string) error {
	if policy != structs.PullAlways {
		_, err := d.docker.ImageInspect(ctx, ref)
		if err == nil {
			return nil
		}
		if !cerrdefs.IsNotFound(err) {
			return fmt.Errorf("inspect image %s: %w", ref, err)
		}
		if policy == structs.PullNever {
			return fmt.Errorf("image %s is not on this node and pull = \"never\"", ref)
		}
	}
	return d.pull(ctx, ref)
}

// pull pulls ref, reading the Engine's progress to its end: the error of
// a failed pull comes in it.
func (d *Driver) pull(ctx context.Context, ref string) error {
	ctx, cancel := context.WithTimeout(ctx, d.cfg.PullTimeout)
	defer cancel()
	rc, err := d.docker.ImagePull(ctx, ref, image.PullOptions{})
	if err != nil {
		return pullErr(ctx, ref, d.cfg.PullTimeout.String(), err)
	}
	defer rc.Close()
	dec := json.NewDecoder(rc)
	for {
		var msg struct {
			Error string `json:"error"`
		}
		if err := dec.Decode(&msg); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return pullErr(ctx, ref, d.cfg.PullTimeout.String(), err)
		}
		if msg.Error != "" {
			return fmt.Errorf("pull image %s: %s", ref, msg.Error)
		}
	}
}

func pullErr(ctx context.Context, ref, bound string, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("pull image %s: gave up after %s: %w", ref, bound, err)
	}
	return fmt.Errorf("pull image %s: %w", ref, err)
}
