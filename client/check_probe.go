package client

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"

	"github.com/mk-orchestrator/mk/structs"
)

// probe runs one check once and returns its status and what it saw.
// podIP is the pod's own address ("" for a pod in the node's network).
func (c *Client) probe(ctx context.Context, pod *structs.Pod, podIP string, pc *podCheck) (string, string) {
	ctx, cancel := context.WithTimeout(ctx, pc.timeout)
	defer cancel()
	var output string
	var err error
	switch pc.spec.Type {
	case "http":
		output, err = probeHTTP(ctx, pod, podIP, pc)
	case "tcp":
		output, err = probeTCP(ctx, pod, podIP, pc)
	case "exec":
		output, err = c.probeExec(ctx, pod, pc)
	default:
		err = fmt.Errorf("unknown check type %q", pc.spec.Type)
	}
	if err != nil {
		return structs.CheckCritical, shorten(strings.ReplaceAll(err.Error(), "\n", "; "))
	}
	return structs.CheckPassing, shorten(output)
}

// checkAddr is where an http or tcp check of a pod connects. A pod with
// an address of its own (podIP, bridge mode) is probed there, on the
// port inside the pod (To). A pod in its node's network is probed on the
// node port the scheduler gave the check's port label, on the node's
// address (loopback when the node's address is unspecified): the node
// port is where its task listens.
func checkAddr(pod *structs.Pod, podIP, label string) (string, error) {
	for _, p := range pod.Ports {
		if p.Label != label {
			continue
		}
		if podIP != "" {
			return net.JoinHostPort(podIP, strconv.Itoa(podPort(p))), nil
		}
		host := p.HostIP
		if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
			host = "127.0.0.1"
		}
		return net.JoinHostPort(host, strconv.Itoa(p.Value)), nil
	}
	return "", fmt.Errorf("port %q has no address on this node", label)
}

// probeHTTP passes on a 2xx answer to a GET of the check's path.
func probeHTTP(ctx context.Context, pod *structs.Pod, podIP string, pc *podCheck) (string, error) {
	addr, err := checkAddr(pod, podIP, pc.portLabel)
	if err != nil {
		return "", err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+pc.spec.Path, nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("User-Agent", "mk-health-check")
	resp, err := checkHTTPClient.Do(req)
	if err != nil {
		return "", unwrapURLError(err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	status := "HTTP " + resp.Status
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return "", fmt.Errorf("%s", status)
	}
	return status, nil
}

// checkHTTPClient follows no redirects (a 3xx is not healthy, as in
// Nomad) and keeps no connections: each probe is a fresh connect.
var checkHTTPClient = &http.Client{
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	Transport:     &http.Transport{DisableKeepAlives: true, Proxy: nil},
}

// unwrapURLError drops the "Get "http://…":" prefix the URL already says.
func unwrapURLError(err error) error {
	if ue, ok := err.(interface{ Unwrap() error }); ok && strings.HasPrefix(err.Error(), "Get ") {
		return ue.Unwrap()
	}
	return err
}

// probeTCP passes when a connection to the port opens.
func probeTCP(ctx context.Context, pod *structs.Pod, podIP string, pc *podCheck) (string, error) {
	addr, err := checkAddr(pod, podIP, pc.portLabel)
	if err != nil {
		return "", err
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return "", err
	}
	_ = conn.Close()
	return "connected to " + addr, nil
}

// probeExec runs the check's command in its task and passes on exit 0.
func (c *Client) probeExec(ctx context.Context, pod *structs.Pod, pc *podCheck) (string, error) {
	cmd := append([]string{pc.spec.Command}, pc.spec.Args...)
	res, err := c.ExecTask(ctx, pod.ID, pc.task, cmd, pc.timeout)
	if err != nil {
		return "", err
	}
	out := firstLine(res.Stdout, res.Stderr)
	if res.ExitCode != 0 {
		if out == "" {
			return "", fmt.Errorf("exit code %d", res.ExitCode)
		}
		return "", fmt.Errorf("exit code %d: %s", res.ExitCode, out)
	}
	return out, nil
}

// firstLine is the first non-empty line of the outputs, in order.
func firstLine(outputs ...[]byte) string {
	for _, o := range outputs {
		for _, l := range bytes.Split(o, []byte("\n")) {
			if s := strings.TrimSpace(string(l)); s != "" {
				return s
			}
		}
	}
	return ""
}
