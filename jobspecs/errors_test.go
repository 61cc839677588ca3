package jobspecs

// errorCases are bad job files and the exact error each gives, parsed as
// "web.hcl" with BaseDir testdata.
var errorCases = []struct {
	name string
	src  string
	opts ParseOptions
	want string
}{
	{
		name: "wrong type",
		src: `job "web" {
  group "g" {
    count = "three"
    task "t" {
      driver = "exec"
    }
  }
}`,
		want: `web.hcl:3:13: count: expected a number, got string`,
	},
	{
		name: "unknown attribute",
		src: `job "web" {
  colour = "red"
}`,
		want: `web.hcl:2:3: Unsupported argument; An argument named "colour" is not expected here.`,
	},
	{
		name: "unknown block",
		src: `job "web" {
  group "g" {
    task "t" {
      driver = "exec"
      confg {
        command = "/bin/true"
      }
    }
  }
}`,
		want: `web.hcl:5:7: Unsupported block type; Blocks of type "confg" are not expected here. Did you mean "config"?`,
	},
	{
		name: "missing label",
		src: `job "web" {
  group {
  }
}`,
		want: `web.hcl:2:9: Missing name for group; All group blocks must have 1 labels (name).`,
	},
	{
		name: "bad duration",
		src: `job "web" {
  group "g" {
    restart {
      delay = "5 seconds"
    }
  }
}`,
		want: `web.hcl:4:15: delay: expected a duration such as "30s", got "5 seconds"`,
	},
	{
		name: "missing variable",
		src: `variable "image" {}
job "web" {
}`,
		want: `web.hcl:1:1: Missing value for variable "image"; it has no default: pass -var "image=..." or set it in a -var-file`,
	},
	{
		name: "undefined variable",
		src: `job "web" {
  group "g" {
    task "t" {
      driver = "docker"
      config {
        image = var.image
      }
    }
  }
}`,
		want: `web.hcl:6:17: Undefined variable; var.image is not declared: add a variable "image" block`,
	},
	{
		name: "undefined local",
		src: `job "web" {
  namespace = local.ns
}`,
		want: `web.hcl:2:15: Undefined local; local.ns is not defined in a locals block`,
	},
	{
		name: "file missing",
		src: `job "web" {
  group "g" {
    task "t" {
      driver = "exec"
      config {
        command = file("missing.sh")
      }
    }
  }
}`,
		want: `web.hcl:6:19: Error in function call; Call to function "file" failed: no file exists at "missing.sh".`,
	},
	{
		name: "duplicate group",
		src: `job "web" {
  group "g" {
    task "t" {
      driver = "exec"
      config {
        command = "/bin/true"
      }
    }
  }
  group "g" {
    task "t" {
      driver = "exec"
      config {
        command = "/bin/true"
      }
    }
  }
}`,
		want: `web.hcl:10:3: job "web": group "g" is defined more than once`,
	},
	{
		name: "negative count and memory 0",
		src: `job "web" {
  group "g" {
    count = -1
    task "t" {
      driver = "exec"
      config {
        command = "/bin/true"
      }
      resources {
        memory = 0
      }
    }
  }
}`,
		want: `web.hcl:3:13: job "web" group "g": count must be >= 0
web.hcl:10:18: job "web" group "g" task "t": resources.memory must be > 0`,
	},
	{
		name: "missing driver",
		src: `job "web" {
  group "g" {
    task "t" {
      config {
        command = "/bin/true"
      }
    }
  }
}`,
		want: `web.hcl:3:5: job "web" group "g" task "t": driver is required`,
	},
	{
		name: "unknown port label and unknown volume",
		src: `job "web" {
  group "g" {
    network {
      port "http" {
        to = 80
      }
    }
    service {
      name = "web"
      port = "htp"
    }
    task "t" {
      driver = "exec"
      config {
        command = "/bin/true"
      }
      volume_mount {
        volume      = "data"
        destination = "/data"
      }
    }
  }
}`,
		want: `web.hcl:10:14: job "web" group "g" service "web": port refers to unknown port label "htp"
web.hcl:18:23: job "web" group "g" task "t": volume_mount[0].volume refers to unknown volume "data"`,
	},
	{
		name: "config key of another driver",
		src: `job "web" {
  group "g" {
    task "t" {
      driver = "exec"
      config {
        command = "/bin/true"
        image   = "nginx"
      }
    }
  }
}`,
		want: `web.hcl:7:19: job "web" group "g" task "t": config.image is not used by driver "exec"`,
	},
	{
		name: "bad restart mode",
		src: `job "web" {
  group "g" {
    restart {
      mode = "retry"
    }
    task "t" {
      driver = "exec"
      config {
        command = "/bin/true"
      }
    }
  }
}`,
		want: `web.hcl:4:14: job "web" group "g": restart.mode must be one of delay, fail; got "retry"`,
	},
	{
		name: "two jobs",
		src: `job "web" {
}
job "other" {
}`,
		want: `web.hcl:3:1: Duplicate job block; a job file holds exactly one job, the first is at web.hcl:1:1`,
	},
	{
		name: "empty file",
		src:  ``,
		want: `web.hcl:1:1: Missing job block; a job file must hold one job "name" {} block`,
	},
	{
		name: "unclosed block",
		src: `job "web" {
  group "g" {
  }
`,
		want: `web.hcl:1:11: Unclosed configuration block; There is no closing brace for this block before the end of the file. This may be caused by incorrect brace nesting elsewhere in this file.`,
	},
	{
		name: "locals cycle",
		src: `locals {
  a = local.b
  b = local.a
}
job "web" {
}`,
		want: `web.hcl:2:3: Local value cycle; local.a cannot be evaluated: it is part of, or depends on, a cycle of locals
web.hcl:3:3: Local value cycle; local.b cannot be evaluated: it is part of, or depends on, a cycle of locals`,
	},
	{
		name: "list element of wrong type",
		src: `job "web" {
  group "g" {
    task "t" {
      driver = "exec"
      config {
        command = "/bin/true"
        args    = ["a", { x = 1 }]
      }
    }
  }
}`,
		want: `web.hcl:7:19: args[1]: expected a string, got object`,
	},
	{
		name: "fractional number",
		src: `job "web" {
  priority = 2.5
}`,
		want: `web.hcl:2:14: priority: expected a whole number, got 2.5`,
	},
	{
		name: "bool expected",
		src: `job "web" {
  group "g" {
    update {
      auto_revert = "yes"
    }
  }
}`,
		want: `web.hcl:4:21: auto_revert: expected a bool, got string`,
	},
	{
		name: "duplicate single block",
		src: `job "web" {
  group "g" {
    restart {
      attempts = 1
    }
    restart {
      attempts = 2
    }
  }
}`,
		want: `web.hcl:6:5: Duplicate restart block; only one restart block is allowed in a group, the first is at web.hcl:3:5`,
	},
	{
		name: "job without groups, bad name",
		src: `job "Web_1" {
}`,
		want: `web.hcl:1:5: job "Web_1": name must be lowercase letters, digits and '-', starting and ending with a letter or digit, got "Web_1"
web.hcl:1:1: job "Web_1": must have at least one group`,
	},
	{
		name: "service checks",
		src: `job "web" {
  group "g" {
    network {
      port "http" {
        to = 80
      }
    }
    service {
      name      = "web"
      port      = "http"
      node_port = 80
      check {
        type     = "http"
        interval = "-5s"
      }
    }
    task "t" {
      driver = "exec"
      config {
        command = "/bin/true"
      }
    }
  }
}`,
		want: `web.hcl:11:19: job "web" group "g" service "web": node_port requires type = "NodePort"
web.hcl:11:19: job "web" group "g" service "web": node_port must be between 30000 and 32767, got 80
web.hcl:12:7: job "web" group "g" service "web": check[0].path is required for http checks
web.hcl:14:20: job "web" group "g" service "web": check[0].interval must not be negative, got "-5s"`,
	},
	{
		name: "scaling and update",
		src: `job "web" {
  group "g" {
    count = 1
    update {
      max_surge = 0
      max_unavailable = 0
    }
    scaling {
      min         = 2
      max         = 1
      cpu_percent = 150
    }
    task "t" {
      driver = "exec"
      config {
        command = "/bin/true"
      }
    }
  }
}`,
		want: `web.hcl:6:25: job "web" group "g": update.max_unavailable must be > 0 when update.max_surge is 0
web.hcl:10:21: job "web" group "g": scaling.max must be >= scaling.min (2)
web.hcl:11:21: job "web" group "g": scaling.cpu_percent must be between 1 and 100, got 150`,
	},
	{
		name: "ingress path",
		src: `job "web" {
  group "g" {
    ingress {
      path "api" {
        port = 0
      }
    }
    task "t" {
      driver = "exec"
      config {
        command = "/bin/true"
      }
    }
  }
}`,
		want: `web.hcl:4:7: job "web" group "g": ingress.path "api" must start with "/" and hold no '?', '#' or spaces
web.hcl:4:7: job "web" group "g": ingress.path "api".service is required
web.hcl:5:16: job "web" group "g": ingress.path "api".port must be between 1 and 65535, got 0`,
	},
	{
		name: "docker needs image",
		src: `job "web" {
  group "g" {
    task "t" {
      driver = "docker"
    }
  }
}`,
		want: `web.hcl:3:5: job "web" group "g" task "t": config.image is required by driver "docker"`,
	},
	{
		name: "undeclared -var",
		src: `job "web" {
}`,
		opts: ParseOptions{Vars: map[string]string{"image": "x"}},
		want: `-var "image": web.hcl declares no variable "image"`,
	},
	{
		name: "-var of the wrong type",
		src: `variable "n" {
  type = number
}
job "web" {
}`,
		opts: ParseOptions{Vars: map[string]string{"n": "many"}},
		want: `-var "n": a number is required`,
	},
	{
		name: "undeclared variable in -var-file",
		src: `variable "image" {
  default = "x"
}
job "web" {
}`,
		opts: ParseOptions{VarFiles: []string{"testdata/undeclared.vars.hcl"}},
		want: `testdata/undeclared.vars.hcl:2:1: Undeclared variable; "colour" is set here but web.hcl declares no variable "colour"`,
	},
	{
		name: "default of the wrong type",
		src: `variable "n" {
  type    = number
  default = "many"
}
job "web" {
}`,
		want: `web.hcl:3:13: Invalid value for variable; default of variable "n": a number is required`,
	},
	{
		name: "unknown function",
		src: `job "web" {
  namespace = env("NS")
}`,
		want: `web.hcl:2:15: Call to unknown function; There is no function named "env".`,
	},
	{
		name: "missing variable used by a local",
		src: `variable "env" {
  type = string
}
locals {
  name = upper(var.env)
}
job "web" {
  namespace = local.name
}`,
		want: `web.hcl:1:1: Missing value for variable "env"; it has no default: pass -var "env=..." or set it in a -var-file`,
	},
	{
		name: "-var list of the wrong shape",
		src: `variable "tags" {
  type = list(string)
}
job "web" {
}`,
		opts: ParseOptions{Vars: map[string]string{"tags": "[1, [2]]"}},
		want: `-var "tags": element 1: string required, but have tuple`,
	},
	{
		name: "work_dir and working_dir",
		src: `job "web" {
  group "g" {
    task "t" {
      driver = "docker"
      config {
        image       = "mk/busybox:test"
        work_dir    = "/srv"
        working_dir = "/srv"
      }
    }
  }
}`,
		want: `web.hcl:8:9: working_dir: work_dir is set too; they are the same field, set one`,
	},
	{
		name: "kill_signal not a signal",
		src: `job "web" {
  group "g" {
    task "t" {
      driver      = "exec"
      kill_signal = "SIGFOO"
      config {
        command = "/bin/true"
      }
    }
  }
}`,
		want: `web.hcl:5:21: job "web" group "g" task "t": kill_signal "SIGFOO" is not a signal (a name such as "SIGINT" or "INT", or a number 1-64)`,
	},
}
