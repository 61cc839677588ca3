// Package docker is the docker driver: it runs a task as a container of
// the Docker Engine, through the Engine's API and its official Go client
// (DESIGN §10).
//
// Sandbox: a pod in bridge mode gets a pause container (sandbox.go) made
// by CreateNetwork before its tasks start: `mk pause` from the image
// mk/pause:<version>, which the driver imports from mk's own static
// binary on first use (no registry), started with the Engine's
// networking disabled (runc makes its empty namespace; see pauseSpec). Its
// network namespace (/proc/<pid>/ns/net) is what the client's pod network
// pins at the pod's usual path and plumbs (veth, address, routes), so the
// pod's exec tasks run in it too; every docker task of the pod joins it
// (network mode container:<pause>). DestroyNetwork removes the pause
// container once the tasks are gone. Pods in host mode get no pause
// container and their containers run in the host's network.
//
// Names and labels: a task's container is mk-<pod ID's first 8
// characters>-<task> (the full pod ID when that is taken by another pod),
// the pause container mk-<pod ID prefix>-pause; every container carries
// the labels mk.node, mk.pod, mk.job, mk.task and mk.role, so a restarted
// client finds its own and Reconcile removes those of pods it no longer
// runs (a crash between creating a container and persisting its handle
// leaks nothing).
//
// Logs: the Engine keeps the container's output (json-file); the driver
// follows it with timestamps and writes each line, without its timestamp,
// to the task's stdout or stderr file, rotated like exec's logs
// (copy-truncate to path.1 … path.N-1, so `mk pod logs -f` follows either
// driver alike). The timestamp of the last line written is kept in a
// small file beside the logs: a recovered task (client or plugin
// restart) follows from there, so its logs have no gaps and no
// duplicates.
//
// Exit: a goroutine per task waits on the Engine (container wait); the
// exit code and OOMKilled come from the container's state, so a task
// that exited while no driver ran is reported with its real exit. A
// container removed behind mk's back (docker rm -f) ends its task with an
// error, which the restart policy handles. The handle holds the container
// ID: RecoverTask re-finds the container by it.
//
// Config (the client's driver "docker" block, handed to the plugin as
// JSON in MK_DOCKER_CONFIG): allow_privileged, volumes (the host paths
// config.volumes may bind), pull_timeout.
package docker

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"
	"github.com/hashicorp/go-hclog"

	"github.com/mk-orchestrator/mk/drivers"
)

// Name is the docker driver's name in jobs and plugin commands.
const Name = "docker"

// ConfigEnv is the environment variable that carries the driver's Config
// (JSON) from the client to the plugin process.
const ConfigEnv = "MK_DOCKER_CONFIG"

// Config is the client's driver "docker" block.
type Config struct {
	// AllowPrivileged lets tasks set config.privileged.
	AllowPrivileged bool `json:"allow_privileged,omitempty"`
	// Volumes are the host directories (and what is below them) that a
	// task's config.volumes may bind; none by default.
	Volumes []string `json:"volumes,omitempty"`
	// PullTimeout bounds an image pull (default 2m).
	PullTimeout time.Duration `json:"pull_timeout,omitempty"`
	// PauseBinary is the static mk binary the pause image holds
	// (default: this process's executable).
	PauseBinary string `json:"pause_binary,omitempty"`
	// Endpoint is the Engine's address (unix:///path or tcp://host:port);
	// "" is DOCKER_HOST, else the local socket.
	Endpoint string `json:"endpoint,omitempty"`
}

// ConfigFromEnv reads the Config in MK_DOCKER_CONFIG (zero when unset).
func ConfigFromEnv() (Config, error) {
	var c Config
	if s := os.Getenv(ConfigEnv); s != "" {
		if err := json.Unmarshal([]byte(s), &c); err != nil {
			return c, fmt.Errorf("%s: %w", ConfigEnv, err)
		}
	}
	return c, nil
}

// Env returns c as the plugin's environment entry.
func (c Config) Env() string {
	b, _ := json.Marshal(c)
	return ConfigEnv + "=" + string(b)
}

// defaultPullTimeout bounds a pull when the config sets no pull_timeout.
const defaultPullTimeout = 2 * time.Minute

// pingTimeout bounds the Engine's answer to a fingerprint.
const pingTimeout = 3 * time.Second

// Driver is the docker driver. It is safe for concurrent use (see
// drivers.Driver).
type Driver struct {
	logger hclog.Logger
	cfg    Config
	logCfg LogConfig
	docker *client.Client
	// coreMHz is one core's clock: a task's CPU quota is its MHz over it.
	coreMHz int

	mu    sync.RWMutex
	tasks map[string]*task
	// pauses are the pause containers of the pods, by pod ID, as
	// CreateNetwork returned them (StartTask needs no lookup).
	pauses map[string]string

	// pauseMu serialises building the pause image.
	pauseMu sync.Mutex
	// images are the image checks begun with the pods' sandboxes.
	images imageChecks
	// apiSettled says the Engine's API version is negotiated (see
	// settleAPIVersion).
	apiSettled atomic.Bool
}

var (
	_ drivers.Driver          = (*Driver)(nil)
	_ drivers.StreamingExecer = (*Driver)(nil)
	_ drivers.NetworkDriver   = (*Driver)(nil)
	_ drivers.Reconciler      = (*Driver)(nil)
)

// New returns a docker driver for the Engine at cfg.Endpoint, else the one
// DOCKER_HOST names, else the local socket, negotiating the API version
// with it (20.10's 1.41 and later).
func New(logger hclog.Logger, cfg Config) (*Driver, error) {
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	if cfg.PullTimeout <= 0 {
		cfg.PullTimeout = defaultPullTimeout
	}
	opts := []client.Opt{client.FromEnv, client.WithAPIVersionNegotiation()}
	if cfg.Endpoint != "" {
		opts = append(opts, client.WithHost(cfg.Endpoint))
	}
	c, err := client.NewClientWithOpts(opts...)
	if err != nil {
		return nil, fmt.Errorf("docker client: %w", err)
	}
	return &Driver{logger: logger.Named(Name), cfg: cfg, logCfg: DefaultLogConfig, docker: c, coreMHz: drivers.CoreMHz(),
		tasks: map[string]*task{}, pauses: map[string]string{}}, nil
}

// ping pings the Engine and, the first time it answers, negotiates the
// API version from its answer. The Engine client would negotiate lazily
// on its first request, and two first requests at once race on the
// version it keeps (it writes it under a lock, reads it without): the
// fingerprint (the client's first call) and CreateNetwork (before its
// concurrent image checks) settle it here first.
func (d *Driver) ping(ctx context.Context) error {
	ping, err := d.docker.Ping(ctx)
	if err == nil && !d.apiSettled.Load() {
		d.docker.NegotiateAPIVersionPing(ping)
		d.apiSettled.Store(true)
	}
	return err
}

// Close releases the Engine client.
func (d *Driver) Close() error { return d.docker.Close() }

// Fingerprint is healthy while the Engine answers its ping; it reports
// the Engine's version and the images on the node. Docker counts as
// detected (installed, so unhealthy rather than missing) when the Engine
// answered with an error, when its socket exists, or when the client's
// config names an endpoint.
func (d *Driver) Fingerprint(ctx context.Context) (*drivers.Fingerprint, error) {
	ctx, cancel := context.WithTimeout(ctx, pingTimeout)
	defer cancel()
	if err := d.ping(ctx); err != nil {
		detected := !client.IsErrConnectionFailed(err) || d.cfg.Endpoint != ""
		if sock, ok := strings.CutPrefix(d.docker.DaemonHost(), "unix://"); ok {
			if _, serr := os.Stat(sock); serr == nil {
				detected = true
			}
		}
		return &drivers.Fingerprint{Detected: detected, Description: "Docker Engine unreachable: " + err.Error()}, nil
	}
	v, err := d.docker.ServerVersion(ctx)
	if err != nil {
		return &drivers.Fingerprint{Detected: true, Description: "Docker Engine version: " + err.Error()}, nil
	}
	attrs := map[string]string{
		"driver.docker":             "1",
		"driver.docker.version":     v.Version,
		"driver.docker.api_version": v.APIVersion,
		"driver.docker.privileged":  fmt.Sprint(d.cfg.AllowPrivileged),
	}
	if imgs, err := d.imageTags(ctx); err == nil {
		attrs["driver.docker.images"] = strings.Join(imgs, ",")
	}
	return &drivers.Fingerprint{Detected: true, Healthy: true, Attributes: attrs,
		Description: "Docker Engine " + v.Version + " (API " + v.APIVersion + ")"}, nil
}

// imageTags are the tags of the images on the node, sorted.
func (d *Driver) imageTags(ctx context.Context) ([]string, error) {
	list, err := d.docker.ImageList(ctx, image.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list images: %w", err)
	}
	var tags []string
	for _, img := range list {
		for _, t := range img.RepoTags {
			if t != "<none>:<none>" {
				tags = append(tags, t)
			}
		}
	}
	sort.Strings(tags)
	return tags, nil
}

// lookup returns the task with the given ID.
func (d *Driver) lookup(id string) (*task, error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	t, ok := d.tasks[id]
	if !ok {
		return nil, fmt.Errorf("%w: %s", drivers.ErrTaskNotFound, id)
	}
	return t, nil
}
