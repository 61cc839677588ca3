# Runs anywhere with busybox (`make deps` installs busybox-static; exec
# driver). Two pods, each with its own IP, serve HTTP with busybox httpd on
# port 8080; the service "http" gives them one virtual IP (and a NodePort)
# that load-balances over the pods whose http and tcp checks pass, and the
# name http.default.svc.mk.local. `mk service status http` shows how to
# reach it; `mk pod status ID` shows the checks.
job "http" {
  type = "service"

  group "web" {
    count = 2

    network {
      port "http" {
        to = 8080
      }
    }

    update {
      min_healthy_time = "1s"
    }

    service {
      name = "http"
      port = "http"
      type = "NodePort" # also on port 30000+ of every node

      check {
        type     = "http"
        path     = "/healthz"
        interval = "2s"
        timeout  = "1s"
      }

      check {
        type     = "tcp"
        interval = "2s"
        timeout  = "1s"
      }
    }

    task "httpd" {
      driver = "exec"

      config {
        command = "/bin/sh"
        args    = ["-c", "mkdir -p www && echo ok > www/healthz && echo \"hello from $MK_POD_NAME\" > www/index.html && exec busybox httpd -f -p $MK_PORT_http -h www"]
      }

      resources {
        cpu    = 50
        memory = 32
      }
    }
  }
}
