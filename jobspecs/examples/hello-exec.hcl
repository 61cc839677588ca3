# Runs anywhere (exec driver). The job `make dev` runs: two pods, each
# printing a greeting every 5s.
job "hello" {
  type = "service"

  group "hello" {
    count = 2

    # job run waits until each pod has run this long without a restart.
    update {
      min_healthy_time = "1s"
    }

    task "greeter" {
      driver = "exec"
      config {
        command = "/bin/sh"
        args    = ["-c", "while true; do echo \"hello from $MK_POD_NAME\"; sleep 5; done"]
      }
      resources {
        cpu    = 100
        memory = 64
      }
    }
  }
}
