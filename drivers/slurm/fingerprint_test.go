package slurm

import (
	"reflect"
	"testing"
)

// TestParseSinfo sums GPUs per partition over its node configurations;
// the default partition is marked '*'.
func TestParseSinfo(t *testing.T) {
	out := []byte("gpu*|gpu:2|3|up\ngpu*|gpu:a100:4(S:0-1),nic:1|1|up\ncpu|(null)|8|up\ndebug|gpu|2|down\n")
	got := parseSinfo(out)
	want := []*partition{
		{Name: "gpu", Default: true, Up: true, GPUs: 10},
		{Name: "cpu", Up: true},
		{Name: "debug", GPUs: 2},
	}
	if !reflect.DeepEqual(got, want) {
		for _, p := range got {
			t.Logf("%+v", *p)
		}
		t.Fatal("parseSinfo differs")
	}
	d := &Driver{}
	if p := d.defaultPartition(got); p.Name != "gpu" {
		t.Errorf("default partition %s, want gpu", p.Name)
	}
	d.cfg.Partition = "debug"
	if p := d.defaultPartition(got); p.Name != "debug" {
		t.Errorf("configured partition %s, want debug", p.Name)
	}
	d.cfg.Partition = "none"
	if p := d.defaultPartition(got); p != nil {
		t.Errorf("a missing configured partition gave %s", p.Name)
	}
}
