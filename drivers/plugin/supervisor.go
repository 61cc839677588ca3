package plugin

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	goplugin "github.com/hashicorp/go-plugin"

	"github.com/mk-orchestrator/mk/drivers"
)

// Supervisor timings.
const (
	// checkInterval is how often the supervisor looks for a dead plugin.
	checkInterval = 100 * time.Millisecond
	// maxBackoff caps the wait between failed relaunches.
	maxBackoff = 10 * time.Second
)

// launchFunc starts a plugin; Launch in production.
type launchFunc func(binPath, name string, logger hclog.Logger) (drivers.Driver, *goplugin.Client, error)

// Supervisor keeps a driver plugin running: when the plugin process dies
// it launches a new one and recovers, from their handles, the tasks that
// were started or recovered through the supervisor. Supervisor is itself
// a drivers.Driver that forwards to the current plugin, and is safe for
// concurrent use. A call made while the plugin is down fails with
// ErrPluginUnavailable; a WaitTask in progress survives the restart.
type Supervisor struct {
	binPath string
	name    string
	logger  hclog.Logger
	launch  launchFunc

	mu       sync.Mutex
	driver   drivers.Driver
	client   *goplugin.Client
	restarts int
	// relaunched is closed (and replaced) after each relaunch.
	relaunched chan struct{}
	handles    map[string]*drivers.TaskHandle

	stop chan struct{}
	done chan struct{}
}

var _ drivers.Driver = (*Supervisor)(nil)

// SupervisorOption configures a Supervisor.
type SupervisorOption func(*Supervisor)

// WithEnv adds env to the plugin process's environment, at each launch.
func WithEnv(env ...string) SupervisorOption {
	return func(s *Supervisor) {
		s.launch = func(binPath, name string, logger hclog.Logger) (drivers.Driver, *goplugin.Client, error) {
			return LaunchEnv(binPath, name, env, logger)
		}
	}
}

// NewSupervisor launches `binPath plugin name` and starts watching it.
func NewSupervisor(binPath, name string, logger hclog.Logger, opts ...SupervisorOption) (*Supervisor, error) {
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	s := &Supervisor{
		binPath:    binPath,
		name:       name,
		logger:     logger.Named("supervisor." + name),
		launch:     Launch,
		relaunched: make(chan struct{}),
		handles:    map[string]*drivers.TaskHandle{},
		stop:       make(chan struct{}),
		done:       make(chan struct{}),
	}
	for _, o := range opts {
		o(s)
	}
	d, c, err := s.launch(binPath, name, logger)
	if err != nil {
		return nil, err
	}
	s.driver, s.client = d, c
	go s.watch()
	return s, nil
}

// Shutdown stops watching and kills the plugin process. Its tasks keep
// running, to be recovered by a later supervisor.
func (s *Supervisor) Shutdown() {
	select {
	case <-s.stop:
	default:
		close(s.stop)
	}
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	s.client.Kill()
}

// PluginPID is the process ID of the current plugin process (0 if it is
// unknown).
func (s *Supervisor) PluginPID() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if rc := s.client.ReattachConfig(); rc != nil {
		return rc.Pid
	}
	return 0
}

// Restarts is how many times the plugin was relaunched.
func (s *Supervisor) Restarts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.restarts
}

// watch relaunches the plugin whenever its process has exited.
func (s *Supervisor) watch() {
	defer close(s.done)
	t := time.NewTicker(checkInterval)
	defer t.Stop()
	backoff := checkInterval
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		s.mu.Lock()
		exited := s.client.Exited()
		s.mu.Unlock()
		if !exited {
			continue
		}
		if err := s.relaunch(); err != nil {
			s.logger.Error("relaunching driver plugin failed", "error", err, "retry_in", backoff)
			select {
			case <-s.stop:
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, maxBackoff)
			continue
		}
		backoff = checkInterval
	}
}

// relaunch starts a new plugin process and recovers the known tasks in it
// before making it current.
func (s *Supervisor) relaunch() error {
	s.logger.Warn("driver plugin exited, relaunching")
	d, c, err := s.launch(s.binPath, s.name, s.logger)
	if err != nil {
		return err
	}
	s.mu.Lock()
	handles := make([]*drivers.TaskHandle, 0, len(s.handles))
	for _, h := range s.handles {
		handles = append(handles, h)
	}
	s.mu.Unlock()
	lost := map[string]error{}
	for _, h := range handles {
		if err := d.RecoverTask(h); err != nil {
			lost[h.TaskID()] = err
			s.logger.Warn("task not recovered after plugin restart", "task_id", h.TaskID(), "error", err)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.client.Kill() // reap the old process and free its connection
	s.driver, s.client = d, c
	s.restarts++
	for id := range lost {
		delete(s.handles, id)
	}
	close(s.relaunched)
	s.relaunched = make(chan struct{})
	s.logger.Info("driver plugin relaunched", "recovered", len(handles)-len(lost), "lost", len(lost))
	return nil
}

// current returns the current driver and a channel closed at the next
// relaunch.
func (s *Supervisor) current() (drivers.Driver, <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.driver, s.relaunched
}

func (s *Supervisor) remember(h *drivers.TaskHandle) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.handles[h.TaskID()] = h
}

// Fingerprint forwards to the plugin.
func (s *Supervisor) Fingerprint(ctx context.Context) (*drivers.Fingerprint, error) {
	d, _ := s.current()
	return d.Fingerprint(ctx)
}

// StartTask starts the task in the plugin and remembers its handle.
func (s *Supervisor) StartTask(cfg *drivers.TaskConfig) (*drivers.TaskHandle, error) {
	d, _ := s.current()
	h, err := d.StartTask(cfg)
	if err != nil {
		return nil, err
	}
	s.remember(h)
	return h, nil
}

// RecoverTask recovers the task in the plugin and remembers its handle.
func (s *Supervisor) RecoverTask(h *drivers.TaskHandle) error {
	d, _ := s.current()
	if err := d.RecoverTask(h); err != nil {
		return err
	}
	s.remember(h)
	return nil
}

// WaitTask waits for the task's exit across plugin restarts: when the
// plugin dies mid-wait, it waits for the relaunch and waits again in the
// new plugin.
func (s *Supervisor) WaitTask(ctx context.Context, taskID string) (<-chan *drivers.ExitResult, error) {
	d, next := s.current()
	inner, err := d.WaitTask(ctx, taskID)
	if err != nil {
		return nil, err
	}
	out := make(chan *drivers.ExitResult, 1)
	go func() {
		defer close(out)
		for {
			res, ok := <-inner
			if !ok {
				return // ctx done
			}
			if res.Err == nil || !isUnavailable(res.Err) {
				out <- res
				return
			}
			select {
			case <-next:
			case <-ctx.Done():
				return
			}
			d, next = s.current()
			if inner, err = d.WaitTask(ctx, taskID); err != nil {
				out <- &drivers.ExitResult{Err: fmt.Errorf("wait task %s after plugin restart: %w", taskID, err)}
				return
			}
		}
	}()
	return out, nil
}

// StopTask forwards to the plugin.
func (s *Supervisor) StopTask(taskID string, timeout time.Duration, signal string) error {
	d, _ := s.current()
	return d.StopTask(taskID, timeout, signal)
}

// DestroyTask destroys the task in the plugin and forgets its handle.
func (s *Supervisor) DestroyTask(taskID string, force bool) error {
	d, _ := s.current()
	err := d.DestroyTask(taskID, force)
	if err == nil || errors.Is(err, drivers.ErrTaskNotFound) {
		s.mu.Lock()
		delete(s.handles, taskID)
		s.mu.Unlock()
	}
	return err
}

// InspectTask forwards to the plugin.
func (s *Supervisor) InspectTask(taskID string) (*drivers.TaskStatus, error) {
	d, _ := s.current()
	return d.InspectTask(taskID)
}

// TaskStats forwards to the plugin; the stream ends if the plugin dies.
func (s *Supervisor) TaskStats(ctx context.Context, taskID string, interval time.Duration) (<-chan *drivers.TaskResourceUsage, error) {
	d, _ := s.current()
	return d.TaskStats(ctx, taskID, interval)
}

// ExecTask forwards to the plugin.
func (s *Supervisor) ExecTask(ctx context.Context, taskID string, cmd []string, timeout time.Duration) (*drivers.ExecResult, error) {
	d, _ := s.current()
	return d.ExecTask(ctx, taskID, cmd, timeout)
}

var _ drivers.StreamingExecer = (*Supervisor)(nil)

// ExecTaskStreaming forwards to the plugin.
func (s *Supervisor) ExecTaskStreaming(ctx context.Context, taskID string, opts *drivers.ExecStreamOptions) (int, error) {
	d, _ := s.current()
	se, ok := d.(drivers.StreamingExecer)
	if !ok {
		return 0, fmt.Errorf("exec in task %s: driver %s cannot stream exec", taskID, s.name)
	}
	return se.ExecTaskStreaming(ctx, taskID, opts)
}
