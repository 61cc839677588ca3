# Runs anywhere (exec driver). A system job: one pod on every eligible
# client node.
job "node-agent" {
  type = "system"

  group "agent" {
    task "heartbeat" {
      driver = "exec"
      config {
        command = "/bin/sh"
        args    = ["-c", "while true; do echo \"alive on $HOSTNAME\"; sleep 30; done"]
      }
      resources {
        cpu    = 50
        memory = 32
      }
    }
  }
}
