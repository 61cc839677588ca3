# A job the dev agent cannot place: group "web" needs a driver no node
# has, group "big" more cpu than any node offers. `job plan` warns.
job "unplaceable" {
  group "web" {
    count = 2

    task "nginx" {
      driver = "docker"
      config {
        image = "mk/busybox:test"
      }
    }
  }

  group "big" {
    task "crunch" {
      driver = "exec"
      config {
        command = "/bin/true"
      }
      resources {
        cpu    = 100000
        memory = 64
      }
    }
  }
}
