// Package plugin runs drivers out of process with hashicorp/go-plugin over
// gRPC: the client agent launches `mk plugin NAME` (Launch), the plugin
// process serves its driver (Serve), and a Supervisor restarts a plugin
// that died and recovers its tasks.
package plugin

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"time"

	"github.com/hashicorp/go-hclog"
	goplugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/mk-orchestrator/mk/drivers"
	pb "github.com/mk-orchestrator/mk/drivers/proto"
)

// Handshake is shared by mk and its driver plugins. The cookie only keeps
// a plugin binary from being run by hand; it is no security measure.
var Handshake = goplugin.HandshakeConfig{
	ProtocolVersion:  1,
	MagicCookieKey:   "MK_DRIVER_PLUGIN",
	MagicCookieValue: "6f1c2a9e4b7d4e0fa3c85d2b9e17c04a",
}

// PluginName is the name a driver is dispensed under in the plugin map.
const PluginName = "driver"

// PluginMap is the plugin set of a plugin process serving impl; the host
// side passes a nil impl.
func PluginMap(impl drivers.Driver) map[string]goplugin.Plugin {
	return map[string]goplugin.Plugin{PluginName: &DriverPlugin{Impl: impl}}
}

// DriverPlugin is the go-plugin glue of a driver, gRPC only.
type DriverPlugin struct {
	goplugin.NetRPCUnsupportedPlugin
	// Impl is the driver served; set only in the plugin process.
	Impl drivers.Driver
}

// GRPCServer registers the driver service.
func (p *DriverPlugin) GRPCServer(_ *goplugin.GRPCBroker, s *grpc.Server) error {
	if p.Impl == nil {
		return errors.New("no driver to serve")
	}
	pb.RegisterDriverServer(s, &grpcServer{impl: p.Impl})
	return nil
}

// GRPCClient returns a drivers.Driver calling the plugin. ctx is cancelled
// by go-plugin when the plugin process exits.
func (p *DriverPlugin) GRPCClient(ctx context.Context, _ *goplugin.GRPCBroker, cc *grpc.ClientConn) (interface{}, error) {
	return &grpcClient{client: pb.NewDriverClient(cc), doneCtx: ctx}, nil
}

// PluginLogger is the logger a plugin process logs with: JSON on stderr,
// which go-plugin on the host side parses into the host's logger.
func PluginLogger(name string) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{
		Name:       name,
		Level:      hclog.Trace,
		Output:     os.Stderr,
		JSONFormat: true,
	})
}

// Serve serves d as a plugin on this process's stdio until the host goes
// away. It is what `mk plugin NAME` runs.
func Serve(d drivers.Driver, logger hclog.Logger) {
	go exitWithHost(logger)
	goplugin.Serve(&goplugin.ServeConfig{
		HandshakeConfig: Handshake,
		Plugins:         PluginMap(d),
		GRPCServer:      goplugin.DefaultGRPCServer,
		Logger:          logger,
	})
}

// exitWithHost ends the plugin once the process that launched it is gone
// (an agent killed with SIGKILL): go-plugin would leave it running, an
// orphan, beside the plugin the restarted agent launches. The tasks live
// on: each one's parent is its waiter, not the plugin.
func exitWithHost(logger hclog.Logger) {
	host := os.Getppid()
	tick := time.NewTicker(hostCheckInterval)
	defer tick.Stop()
	for range tick.C {
		if os.Getppid() != host {
			logger.Warn("the agent that launched this plugin is gone; exiting", "agent_pid", host)
			os.Exit(0)
		}
	}
}

// hostCheckInterval is how often a plugin checks that its agent lives.
const hostCheckInterval = 500 * time.Millisecond

// Launch starts `binPath plugin name` and returns the driver it serves and
// the go-plugin client that owns the process (Kill it to stop the plugin;
// tasks it started keep running). The plugin's logs go to logger.
func Launch(binPath, name string, logger hclog.Logger) (drivers.Driver, *goplugin.Client, error) {
	return LaunchEnv(binPath, name, nil, logger)
}

// LaunchEnv is Launch with env added to the plugin's environment: how a
// driver gets its client config (docker: MK_DOCKER_CONFIG).
func LaunchEnv(binPath, name string, env []string, logger hclog.Logger) (drivers.Driver, *goplugin.Client, error) {
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	client := goplugin.NewClient(&goplugin.ClientConfig{
		HandshakeConfig:  Handshake,
		Plugins:          PluginMap(nil),
		Cmd:              pluginCmd(binPath, name, env),
		AllowedProtocols: []goplugin.Protocol{goplugin.ProtocolGRPC},
		Logger:           logger.Named("plugin." + name),
	})
	rpc, err := client.Client()
	if err != nil {
		client.Kill()
		return nil, nil, fmt.Errorf("launch driver plugin %s: %w", name, err)
	}
	raw, err := rpc.Dispense(PluginName)
	if err != nil {
		client.Kill()
		return nil, nil, fmt.Errorf("dispense driver plugin %s: %w", name, err)
	}
	d, ok := raw.(drivers.Driver)
	if !ok {
		client.Kill()
		return nil, nil, fmt.Errorf("driver plugin %s: got %T, not a driver", name, raw)
	}
	return d, client, nil
}

// pluginCmd is the plugin's command: `binPath plugin name` with env added
// to the agent's environment.
func pluginCmd(binPath, name string, env []string) *exec.Cmd {
	cmd := exec.Command(binPath, "plugin", name)
	if len(env) > 0 {
		cmd.Env = append(os.Environ(), env...)
	}
	return cmd
}
