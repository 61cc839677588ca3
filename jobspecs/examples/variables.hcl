# Needs the docker driver, which mk does not have yet. Variables, locals and
# functions: mk job run -var image=nginx:1.27 variables.hcl
variable "image" {
  type        = string
  default     = "mk/busybox:test"
  description = "The container image to run."
}

variable "replicas" {
  type    = number
  default = 2
}

variable "env" {
  type    = string
  default = "staging"
}

locals {
  name     = format("api-%s", var.env)
  labels   = { tier = "backend", env = upper(var.env) }
  greeting = "hello from ${local.name}"
}

job "api" {
  datacenters = ["dc1"]

  meta {
    tier = local.labels.tier
    env  = local.labels.env
  }

  group "api" {
    count = var.replicas

    network {
      port "http" {
        to = 8080
      }
    }

    service {
      name = local.name
      port = "http"
      tags = [upper(var.env), "v1"]
    }

    task "server" {
      driver = "docker"
      config {
        image   = var.image
        command = "httpd"
        args    = ["-f", "-p", tostring(8080), "-h", "/srv"]
      }
      env {
        GREETING = local.greeting
        REPLICAS = var.replicas
      }
      resources {
        cpu    = max(100, 50 * var.replicas)
        memory = 128
      }
    }
  }
}
