image    = "nginx:1.27"
replicas = 4
