# Runs anywhere with docker (`make test` and `make dev` start dockerd and
# build mk/busybox:test with scripts/docker.sh). The job of DESIGN §4: a
# docker web server and an exec sidecar that share the pod's ephemeral
# volume and localhost (a pause container holds the pod's network
# namespace), a NodePort service with an HTTP check, an ingress
# (shop.local), autoscaling and a rolling update with auto_revert.
job "web" {
  namespace   = "default"
  type        = "service"
  datacenters = ["dc1"]

  group "frontend" {
    count = 3

    update {
      max_surge        = 1
      max_unavailable  = 1
      min_healthy_time = "5s"
      auto_revert      = true
    }

    scaling {
      min            = 2
      max            = 10
      cpu_percent    = 60
      memory_percent = 80
    }

    constraint {
      attribute = "${node.datacenter}"
      value     = "dc1"
    }

    volume "shared" {
      type = "ephemeral"
    }

    network {
      port "http" {
        to = 80
      }
    }

    service {
      name      = "web"
      port      = "http"
      type      = "NodePort"
      node_port = 30080
      check {
        type     = "http"
        path     = "/"
        interval = "5s"
        timeout  = "1s"
      }
    }

    ingress {
      host = "shop.local"
      path "/api" {
        service = "api"
        port    = 8080
      }
      path "/" {
        service = "web"
        port    = 80
      }
    }

    restart {
      attempts = 3
      interval = "1m"
      delay    = "2s"
      mode     = "delay"
    }

    task "nginx" {
      driver = "docker"
      config {
        image   = "mk/busybox:test"
        command = "httpd"
        args    = ["-f", "-p", "80", "-h", "/srv"]
      }
      volume_mount {
        volume      = "shared"
        destination = "/srv"
      }
      env {
        GREETING = "hello"
      }
      resources {
        cpu    = 200
        memory = 64
      }
    }

    task "sidecar" {
      driver = "exec"
      config {
        command = "/bin/sh"
        # Written aside and renamed: httpd must never serve a half-written file.
        args    = ["-c", "while true; do date > /srv/.index.html && mv /srv/.index.html /srv/index.html; sleep 1; done"]
      }
      volume_mount {
        volume      = "shared"
        destination = "/srv"
      }
    }
  }
}
