package jobspecs

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/mk-orchestrator/mk/structs"
)

// exampleFiles returns the job files of examples/.
func exampleFiles(t testing.TB) []string {
	files, err := filepath.Glob(filepath.Join("examples", "*.hcl"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no example job files: %v", err)
	}
	return files
}

func TestExamplesParse(t *testing.T) {
	for _, path := range exampleFiles(t) {
		t.Run(filepath.Base(path), func(t *testing.T) {
			job, err := ParseFile(path, ParseOptions{AllowUnsupported: true})
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			if err := job.Validate(); err != nil {
				t.Fatalf("validate: %v", err)
			}
			if job.ID == "" || job.Namespace != "default" || len(job.Groups) == 0 {
				t.Fatalf("not canonical: ID %q namespace %q groups %d", job.ID, job.Namespace, len(job.Groups))
			}
		})
	}
}

// TestExamplesRoundTrip checks that a parsed job sent as JSON comes back the
// same after Canonicalize, so HCL and API jobs agree.
func TestExamplesRoundTrip(t *testing.T) {
	for _, path := range exampleFiles(t) {
		t.Run(filepath.Base(path), func(t *testing.T) {
			job, err := ParseFile(path, ParseOptions{AllowUnsupported: true})
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			b, err := json.Marshal(job)
			if err != nil {
				t.Fatal(err)
			}
			var back structs.Job
			if err := json.Unmarshal(b, &back); err != nil {
				t.Fatal(err)
			}
			back.Canonicalize()
			if err := back.Validate(); err != nil {
				t.Fatalf("validate after round trip: %v", err)
			}
			if !reflect.DeepEqual(job, &back) {
				t.Fatalf("round trip changed the job: %v", structs.Diff(job, &back))
			}
			again := structs.Copy(&back)
			again.Canonicalize()
			if !reflect.DeepEqual(again, &back) {
				t.Fatal("Canonicalize is not idempotent")
			}
		})
	}
}

// TestExamplesSupported: every example, DESIGN §4's web job included,
// registers as it is.
func TestExamplesSupported(t *testing.T) {
	for _, path := range exampleFiles(t) {
		if _, err := ParseFile(path, ParseOptions{}); err != nil {
			t.Errorf("%s: %v", path, err)
		}
	}
}

func TestWebExample(t *testing.T) {
	job, err := ParseFile("examples/web.hcl", ParseOptions{AllowUnsupported: true})
	if err != nil {
		t.Fatal(err)
	}
	g := job.LookupGroup("frontend")
	if g == nil || g.Count != 3 || len(g.Tasks) != 2 {
		t.Fatalf("group frontend: %+v", g)
	}
	if got := g.Constraints[0].Attribute; got != "${node.datacenter}" {
		t.Errorf("constraint attribute %q, want the runtime reference kept", got)
	}
	if g.Scaling.Min != 2 || g.Scaling.Max != 10 || g.Scaling.CPUPercent != 60 {
		t.Errorf("scaling %+v", g.Scaling)
	}
	if u := g.Update; u.MaxSurge != 1 || u.MaxUnavailable != 1 || !u.AutoRevert || u.MinHealthyTime != "5s" {
		t.Errorf("update %+v", u)
	}
	s := g.Services[0]
	if s.Name != "web" || s.Type != "NodePort" || s.NodePort != 30080 || s.Checks[0].Path != "/" {
		t.Errorf("service %+v", s)
	}
	if len(g.Ingress.Paths) != 2 || g.Ingress.Paths[0].Path != "/api" || g.Ingress.Paths[0].Port != 8080 {
		t.Errorf("ingress %+v", g.Ingress)
	}
	nginx := g.Tasks[0]
	if nginx.Resources.MemoryMB != 64 || nginx.Env["GREETING"] != "hello" || nginx.Config.Image != "mk/busybox:test" {
		t.Errorf("task nginx %+v", nginx)
	}
	if sidecar := g.Tasks[1]; *sidecar.Resources != *structs.DefaultResources() {
		t.Errorf("sidecar resources %+v, want the defaults", sidecar.Resources)
	}
}

func TestGPUExampleReadsFiles(t *testing.T) {
	job, err := ParseFile("examples/gpu-matmul.hcl", ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cfg := job.Groups[0].Tasks[0].Config
	script, _ := os.ReadFile("examples/matmul.slurm")
	cu, _ := os.ReadFile("examples/matmul.cu")
	if cfg.Script != string(script) || cfg.Files["matmul.cu"] != string(cu) {
		t.Fatal("file() did not read the files beside the job file")
	}
	if cfg.GPUs != 1 || cfg.Partition != "gpu" || cfg.Time != "10m" {
		t.Fatalf("config %+v", cfg)
	}
}

func TestVariables(t *testing.T) {
	tests := []struct {
		name    string
		opts    ParseOptions
		image   string
		count   int
		service string
	}{
		{"defaults", ParseOptions{}, "mk/busybox:test", 2, "api-staging"},
		{"var", ParseOptions{Vars: map[string]string{"image": "nginx:1.27", "replicas": "3", "env": "prod"}},
			"nginx:1.27", 3, "api-prod"},
		{"string typed var stays a string", ParseOptions{Vars: map[string]string{"env": "true"}},
			"mk/busybox:test", 2, "api-true"},
		{"var-file", ParseOptions{VarFiles: []string{"testdata/override.vars.hcl"}}, "nginx:1.27", 4, "api-staging"},
		{"var beats var-file", ParseOptions{
			VarFiles: []string{"testdata/override.vars.hcl"},
			Vars:     map[string]string{"replicas": "5"},
		}, "nginx:1.27", 5, "api-staging"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			job, err := ParseFile("examples/variables.hcl", tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			g := job.Groups[0]
			if got := g.Tasks[0].Config.Image; got != tt.image {
				t.Errorf("image %q, want %q", got, tt.image)
			}
			if g.Count != tt.count {
				t.Errorf("count %d, want %d", g.Count, tt.count)
			}
			if got := g.Services[0].Name; got != tt.service {
				t.Errorf("service %q, want %q", got, tt.service)
			}
		})
	}
}

func TestRuntimeReferencesInTemplates(t *testing.T) {
	src := `variable "dc" {
  default = "dc1"
}
job "web" {
  group "g" {
    constraint {
      attribute = "${meta.rack}-${attr.kernel.name}"
      value     = "r1-${var.dc}"
    }
    task "t" {
      driver = "exec"
      config {
        command = "/bin/true"
      }
    }
  }
}`
	job, err := Parse("web.hcl", []byte(src), ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c := job.Groups[0].Constraints[0]
	if c.Attribute != "${meta.rack}-${attr.kernel.name}" || c.Value != "r1-dc1" {
		t.Fatalf("constraint %+v", c)
	}
}

func TestParseErrors(t *testing.T) {
	for _, tt := range errorCases {
		t.Run(tt.name, func(t *testing.T) {
			opts := tt.opts
			opts.BaseDir = "testdata"
			job, err := Parse("web.hcl", []byte(tt.src), opts)
			if err == nil {
				t.Fatalf("no error, job %+v", job)
			}
			var verrs structs.ValidationErrors
			if !errors.As(err, &verrs) || !errors.Is(err, structs.ErrBadRequest) {
				t.Fatalf("error %T is not ValidationErrors", err)
			}
			if got := err.Error(); got != tt.want {
				t.Fatalf("error:\n got: %s\nwant: %s", got, tt.want)
			}
			for _, e := range verrs {
				if strings.Contains(e.Error(), "\n") {
					t.Errorf("error spans lines: %q", e.Error())
				}
			}
		})
	}
}

func TestVarValuesAndFile(t *testing.T) {
	src := `variable "tags" {
  type = list(string)
}
variable "port" {}
variable "debug" {}
variable "name" {}
job "web" {
  group "g" {
    task "t" {
      driver = "exec"
      config {
        command = "/bin/echo"
        args    = concat(var.tags, [tostring(var.port + 1), tostring(!var.debug), var.name])
      }
      env {
        GREETING = trimspace(file("greeting.txt"))
      }
    }
  }
}`
	opts := ParseOptions{
		BaseDir: "testdata",
		Vars:    map[string]string{"tags": `["a", "b"]`, "port": "8079", "debug": "true", "name": "web server"},
	}
	job, err := Parse("web.hcl", []byte(src), opts)
	if err != nil {
		t.Fatal(err)
	}
	task := job.Groups[0].Tasks[0]
	want := []string{"a", "b", "8080", "false", "web server"}
	if !reflect.DeepEqual(task.Config.Args, want) {
		t.Errorf("args %q, want %q", task.Config.Args, want)
	}
	if got := task.Env["GREETING"]; got != "hello from a file" {
		t.Errorf("GREETING %q", got)
	}
}

// TestTaskLifecycleAndDockerKeys: kill_signal and kill_timeout on a task;
// working_dir is docker's spelling of work_dir; ports lists the group's
// port labels the container serves.
func TestTaskLifecycleAndDockerKeys(t *testing.T) {
	src := `job "web" {
  group "g" {
    network {
      port "http" {
        to = 8080
      }
    }
    task "httpd" {
      driver       = "docker"
      kill_signal  = "SIGINT"
      kill_timeout = "20s"
      config {
        image       = "mk/busybox:test"
        working_dir = "/srv"
        ports       = ["http"]
      }
    }
  }
}`
	job, err := Parse("web.hcl", []byte(src), ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	task := job.Groups[0].Tasks[0]
	if task.KillSignal != "SIGINT" || task.KillTimeout != "20s" {
		t.Errorf("kill_signal %q kill_timeout %q, want SIGINT and 20s", task.KillSignal, task.KillTimeout)
	}
	if task.Config.WorkDir != "/srv" || !reflect.DeepEqual(task.Config.Ports, []string{"http"}) {
		t.Errorf("config %+v: want work_dir /srv and ports [http]", task.Config)
	}
}
