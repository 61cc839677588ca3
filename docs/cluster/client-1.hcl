# A client-only agent for the 3-server cluster of server-{1,2,3}.hcl, on the
# same machine. It runs pods; the servers keep the state.
name       = "client-1"
data_dir   = "/tmp/mk/client-1"
bind_addr  = "127.0.0.1"
datacenter = "dc1"
log_level  = "info"

ports {
  http = 6676
  serf = 6678
}

client {
  enabled = true
  servers = ["127.0.0.1:6646", "127.0.0.1:6656", "127.0.0.1:6666"]

  # The HTTP ingress proxy: routes the jobs' ingress blocks (host + path)
  # to their services' pods. Port 80 also works when nothing else holds it.
  ingress {
    port = 8080
  }
}
