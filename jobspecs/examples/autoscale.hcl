# Runs anywhere with busybox (`make deps` installs busybox-static; exec
# driver). A service that scales on CPU: each request to /cgi-bin/burn
# burns a little CPU in the pod that answers it. Load it through the
# service and watch it scale out to 3 pods, then back to 1 once the load
# stops and the scale-down window (5 minutes by default) has passed:
#   mk job run autoscale.hcl
#   mk service status burn     # the ClusterIP
#   while :; do wget -q -O /dev/null http://CLUSTER-IP/cgi-bin/burn; done
#   mk job status burn
variable "scale_up_cooldown" {
  type    = string
  default = "30s"
}

variable "scale_down_cooldown" {
  type    = string
  default = "5m"
}

job "burn" {
  type = "service"

  group "web" {
    scaling {
      min                 = 1
      max                 = 3
      cpu_percent         = 50
      scale_up_cooldown   = var.scale_up_cooldown
      scale_down_cooldown = var.scale_down_cooldown
    }

    network {
      port "http" {
        to = 8080
      }
    }

    update {
      min_healthy_time = "1s"
    }

    service {
      name = "burn"
      port = "http"

      check {
        type     = "http"
        path     = "/healthz"
        interval = "1s"
        timeout  = "1s"
      }
    }

    task "httpd" {
      driver = "exec"

      config {
        command = "/bin/sh"
        args    = ["-c", "mkdir -p www/cgi-bin && echo ok > www/healthz && printf '#!/bin/sh\\ni=0\\nwhile [ $i -lt 5000 ]; do i=$((i+1)); done\\necho Content-Type: text/plain\\necho\\necho burned\\n' > www/cgi-bin/burn && chmod +x www/cgi-bin/burn && exec busybox httpd -f -p $MK_PORT_http -h www"]
      }

      # The autoscaler's CPU percent is of this: 100 MHz.
      resources {
        cpu    = 100
        memory = 32
      }
    }
  }
}
