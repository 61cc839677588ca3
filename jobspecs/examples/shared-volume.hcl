# Runs anywhere (exec driver).
# DESIGN §4's shared volume, with exec tasks only: the writer writes
# /srv/index.html into the pod's ephemeral volume "shared"; the reader,
# which mounts the same volume read-only at /mnt, prints it. Each exec task
# with a volume_mount runs in a mount namespace of its own: it sees the
# volume at its destination, the host does not (a destination missing on
# the host is created there, empty).
job "shared-volume" {
  type = "service"

  group "site" {
    count = 1

    update {
      min_healthy_time = "1s"
    }

    volume "shared" {
      type = "ephemeral"
    }

    task "writer" {
      driver = "exec"
      config {
        command = "/bin/sh"
        args    = ["-c", "while true; do echo \"hello from $MK_POD_NAME\" > /srv/index.html; sleep 2; done"]
      }
      volume_mount {
        volume      = "shared"
        destination = "/srv"
      }
      resources {
        cpu    = 100
        memory = 32
      }
    }

    task "reader" {
      driver = "exec"
      config {
        command = "/bin/sh"
        args    = ["-c", "while true; do cat /mnt/index.html 2>/dev/null; sleep 2; done"]
      }
      volume_mount {
        volume      = "shared"
        destination = "/mnt"
        read_only   = true
      }
      resources {
        cpu    = 100
        memory = 32
      }
    }
  }
}
