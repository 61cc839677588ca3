# Runs anywhere with busybox (exec driver). Two services behind one host
# name: the ingress proxy of every client (port 8080) sends
# http://shop.local:8080/a/... to the service "shop-a" with /a stripped
# (its pods serve "/"), and /b/... to "shop-b" with the path as it is (its
# pods serve "/b/"). From the host, with the node's address:
#   curl -H 'Host: shop.local' http://NODE:8080/a/
# from a pod, where the node DNS answers shop.local with the node's
# address:
#   wget -q -O - http://shop.local:8080/b/
job "shop" {
  type = "service"

  group "a" {
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
      name = "shop-a"
      port = "http"

      check {
        type     = "http"
        path     = "/healthz"
        interval = "2s"
        timeout  = "1s"
      }
    }

    ingress {
      host = "shop.local"

      path "/a" {
        service      = "shop-a"
        port         = 8080
        strip_prefix = true
      }

      path "/b" {
        service = "shop-b"
        port    = 8080
      }
    }

    task "httpd" {
      driver = "exec"

      config {
        command = "/bin/sh"
        args    = ["-c", "mkdir -p www && echo ok > www/healthz && echo \"a $MK_IP\" > www/index.html && exec busybox httpd -f -p $MK_PORT_http -h www"]
      }

      resources {
        cpu    = 50
        memory = 32
      }
    }
  }

  group "b" {
    count = 1

    network {
      port "http" {
        to = 8080
      }
    }

    update {
      min_healthy_time = "1s"
    }

    service {
      name = "shop-b"
      port = "http"

      check {
        type     = "http"
        path     = "/b/healthz"
        interval = "2s"
        timeout  = "1s"
      }
    }

    task "httpd" {
      driver = "exec"

      config {
        command = "/bin/sh"
        args    = ["-c", "mkdir -p www/b && echo ok > www/b/healthz && echo \"b $MK_IP\" > www/b/index.html && exec busybox httpd -f -p $MK_PORT_http -h www"]
      }

      resources {
        cpu    = 50
        memory = 32
      }
    }
  }
}
