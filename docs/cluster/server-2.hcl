# Server 2 of a 3-server mk cluster on one machine (loopback). On real
# hosts use the default ports and each host's own bind_addr instead.
name       = "server-2"
data_dir   = "/tmp/mk/server-2"
bind_addr  = "127.0.0.1"
datacenter = "dc1"
log_level  = "info"

ports {
  http = 6656
  raft = 6657
  serf = 6658
}

server {
  enabled          = true
  bootstrap_expect = 3
}

retry_join = ["127.0.0.1:6648", "127.0.0.1:6658", "127.0.0.1:6668"]
