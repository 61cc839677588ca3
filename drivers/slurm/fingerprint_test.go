package slurm

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
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

// TestFingerprintWithoutSlurmConf: with the commands installed but no
// slurm.conf, the driver says so at once instead of running sinfo (which
// would wait for a configless controller in DNS).
func TestFingerprintWithoutSlurmConf(t *testing.T) {
	bin := t.TempDir()
	for _, name := range []string{"sbatch", "squeue", "scancel", "sinfo"} {
		// sinfo must not run: it would report a partition.
		script := "#!/bin/sh\necho 'gpu*|gpu:2|1|up'\n"
		if err := os.WriteFile(filepath.Join(bin, name), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("SLURM_CONF", "")
	saved := defaultSlurmConfs
	defaultSlurmConfs = []string{filepath.Join(bin, "none", "slurm.conf")}
	t.Cleanup(func() { defaultSlurmConfs = saved })

	d := New(nil, Config{BinDir: bin})
	fp := d.fingerprint(context.Background())
	if !fp.Detected || fp.Healthy || !strings.HasPrefix(fp.Description, "no slurm.conf on this node") {
		t.Fatalf("without slurm.conf: %+v", fp)
	}
	conf := filepath.Join(bin, "slurm.conf")
	if err := os.WriteFile(conf, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	d = New(nil, Config{BinDir: bin, SlurmConf: conf})
	if fp := d.fingerprint(context.Background()); !fp.Healthy {
		t.Fatalf("with slurm.conf: %+v", fp)
	}
}
