package jobspecs

import (
	"fmt"

	"github.com/hashicorp/hcl/v2"
	"github.com/mk-orchestrator/mk/structs"
)

// decodeUpdate starts from the default strategy, so attributes left out keep
// their defaults.
func (d *decoder) decodeUpdate(b *hcl.Block, path string) *structs.UpdateStrategy {
	u := structs.DefaultUpdateStrategy()
	c := d.content(b.Body, []field{
		{"max_surge", countOrPercent{&u.MaxSurge, &u.MaxSurgePercent}},
		{"max_unavailable", countOrPercent{&u.MaxUnavailable, &u.MaxUnavailablePercent}},
		{"min_healthy_time", duration{&u.MinHealthyTime}},
		{"healthy_deadline", duration{&u.HealthyDeadline}},
		{"progress_deadline", duration{&u.ProgressDeadline}},
		{"auto_revert", &u.AutoRevert},
		{"canary", &u.Canary},
		{"auto_promote", &u.AutoPromote},
	})
	d.record(path, "update", b, c.Attributes)
	return u
}

func (d *decoder) decodeScaling(b *hcl.Block, path string) *structs.ScalingPolicy {
	s := &structs.ScalingPolicy{}
	c := d.content(b.Body, []field{
		{"min", &s.Min},
		{"max", &s.Max},
		{"cpu_percent", &s.CPUPercent},
		{"memory_percent", &s.MemoryPercent},
		{"scale_up_cooldown", duration{&s.ScaleUpCooldown}},
		{"scale_down_cooldown", duration{&s.ScaleDownCooldown}},
	})
	d.record(path, "scaling", b, c.Attributes)
	return s
}

func (d *decoder) decodeConstraint(b *hcl.Block, path string, i int) *structs.Constraint {
	k := &structs.Constraint{}
	c := d.content(b.Body, []field{
		{"attribute", &k.Attribute},
		{"operator", &k.Operator},
		{"value", &k.Value},
	})
	d.record(path, fmt.Sprintf("constraint[%d]", i), b, c.Attributes)
	return k
}

func (d *decoder) decodeVolume(b *hcl.Block, path string) *structs.VolumeRequest {
	v := &structs.VolumeRequest{Name: b.Labels[0]}
	c := d.content(b.Body, []field{
		{"type", &v.Type},
		{"source", &v.Source},
		{"read_only", &v.ReadOnly},
	})
	d.record(path, fmt.Sprintf("volume %q", v.Name), b, c.Attributes)
	return v
}

func (d *decoder) decodeNetwork(b *hcl.Block, path string) *structs.NetworkSpec {
	n := &structs.NetworkSpec{}
	c := d.content(b.Body, []field{{"mode", &n.Mode}}, blocks("port:label")...)
	d.record(path, "network", b, c.Attributes)
	for _, pb := range c.Blocks.OfType("port") {
		p := &structs.Port{Label: pb.Labels[0]}
		pc := d.content(pb.Body, []field{{"to", &p.To}, {"static", &p.Static}})
		d.record(path, fmt.Sprintf("network.port %q", p.Label), pb, pc.Attributes)
		n.Ports = append(n.Ports, p)
	}
	return n
}

// decodeService records positions under the service's path, which holds its
// name, so the name is decoded before anything is recorded.
func (d *decoder) decodeService(b *hcl.Block, groupPath string) *structs.ServiceSpec {
	s := &structs.ServiceSpec{}
	c := d.content(b.Body, []field{
		{"name", &s.Name},
		{"port", &s.Port},
		{"type", &s.Type},
		{"node_port", &s.NodePort},
		{"tags", &s.Tags},
		{"session_affinity", &s.SessionAffinity},
		{"protocol", &s.Protocol},
	}, blocks("check")...)
	path := fmt.Sprintf("%s service %q", groupPath, s.Name)
	d.record(path, "", b, c.Attributes)
	for i, cb := range c.Blocks.OfType("check") {
		s.Checks = append(s.Checks, d.decodeCheck(cb, path, i))
	}
	return s
}

func (d *decoder) decodeCheck(b *hcl.Block, path string, i int) *structs.ServiceCheck {
	k := &structs.ServiceCheck{}
	c := d.content(b.Body, []field{
		{"name", &k.Name},
		{"type", &k.Type},
		{"path", &k.Path},
		{"port", &k.Port},
		{"command", &k.Command},
		{"args", &k.Args},
		{"task", &k.Task},
		{"interval", duration{&k.Interval}},
		{"timeout", duration{&k.Timeout}},
	})
	d.record(path, fmt.Sprintf("check[%d]", i), b, c.Attributes)
	return k
}

func (d *decoder) decodeIngress(b *hcl.Block, path string) *structs.IngressSpec {
	in := &structs.IngressSpec{}
	c := d.content(b.Body, []field{{"host", &in.Host}}, blocks("path:label")...)
	d.record(path, "ingress", b, c.Attributes)
	for _, pb := range c.Blocks.OfType("path") {
		p := &structs.IngressPath{Path: pb.Labels[0]}
		pc := d.content(pb.Body, []field{{"service", &p.Service}, {"port", &p.Port}, {"strip_prefix", &p.StripPrefix}})
		d.record(path, fmt.Sprintf("ingress.path %q", p.Path), pb, pc.Attributes)
		in.Paths = append(in.Paths, p)
	}
	return in
}

// decodeRestart starts from the job type's default policy, so attributes
// left out keep their defaults.
func (d *decoder) decodeRestart(b *hcl.Block, path, jobType string) *structs.RestartPolicy {
	r := structs.DefaultRestartPolicy(jobType)
	c := d.content(b.Body, []field{
		{"attempts", &r.Attempts},
		{"interval", duration{&r.Interval}},
		{"delay", duration{&r.Delay}},
		{"mode", &r.Mode},
	})
	d.record(path, "restart", b, c.Attributes)
	return r
}
