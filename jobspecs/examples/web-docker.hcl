# Runs anywhere with docker (`make test` and `make dev` start dockerd and
# build mk/busybox:test with scripts/docker.sh). DESIGN §4's web pod
# without what mk does not run yet: a docker web server and an exec
# sidecar that share the pod's ephemeral volume and localhost (a pause
# container holds the pod's network namespace), behind the service "web"
# (a ClusterIP and a NodePort) with an HTTP check that the sidecar's file
# answers over localhost.
job "web-docker" {
  type = "service"

  group "frontend" {
    count = 2

    network {
      port "http" {
        to = 8080
      }
    }

    update {
      min_healthy_time = "1s"
    }

    volume "shared" {
      type = "ephemeral"
    }

    service {
      name = "web"
      port = "http"
      type = "NodePort"

      check {
        type     = "http"
        path     = "/index.html"
        interval = "2s"
        timeout  = "1s"
      }
    }

    task "nginx" {
      driver = "docker"

      config {
        image   = "mk/busybox:test"
        pull    = "never"
        command = "httpd"
        args    = ["-f", "-p", "8080", "-h", "/srv"]
      }

      volume_mount {
        volume      = "shared"
        destination = "/srv"
        read_only   = true
      }

      resources {
        cpu    = 100
        memory = 32
      }
    }

    task "sidecar" {
      driver = "exec"

      config {
        command = "/bin/sh"
        args    = ["-c", "while true; do echo \"hello from $MK_POD_NAME at $(date)\" > /srv/index.html; busybox wget -q -O /dev/null http://127.0.0.1:8080/index.html || echo 'web not up yet'; sleep 2; done"]
      }

      volume_mount {
        volume      = "shared"
        destination = "/srv"
      }

      resources {
        cpu    = 50
        memory = 32
      }
    }
  }
}
