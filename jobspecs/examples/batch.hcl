# Runs anywhere (exec driver). A batch job: one pod that runs to completion.
job "once" {
  type = "batch"

  group "work" {
    restart {
      attempts = 0
      mode     = "fail"
    }

    task "echo" {
      driver = "exec"
      config {
        command = "/bin/sh"
        args    = ["-c", "echo done"]
      }
      resources {
        cpu    = 100
        memory = 32
      }
    }
  }
}
