package server

import (
	"testing"

	"github.com/hashicorp/raft"
	"github.com/hashicorp/serf/serf"

	"github.com/mk-orchestrator/mk/server/gossip"
)

func TestLogFormatOf(t *testing.T) {
	member := func(id, format string, status serf.MemberStatus) serf.Member {
		tags := map[string]string{gossip.TagRole: gossip.RoleServer, gossip.TagID: id, gossip.TagDC: "dc1"}
		if format != "" {
			tags[gossip.TagLogFormat] = format
		}
		return serf.Member{Name: id, Tags: tags, Status: status}
	}
	raftOf := func(ids ...string) map[raft.ServerID]raft.Server {
		out := map[raft.ServerID]raft.Server{}
		for _, id := range ids {
			out[raft.ServerID(id)] = raft.Server{ID: raft.ServerID(id)}
		}
		return out
	}
	client := serf.Member{Name: "c", Tags: map[string]string{gossip.TagRole: gossip.RoleClient, gossip.TagDC: "dc1"}, Status: serf.StatusAlive}
	alive, failed, left := serf.StatusAlive, serf.StatusFailed, serf.StatusLeft
	tests := []struct {
		name    string
		members []serf.Member
		inRaft  map[raft.ServerID]raft.Server
		want    int
	}{
		{"all new", []serf.Member{member("a", "1", alive), member("b", "1", alive), member("c", "1", alive), client}, raftOf("a", "b", "c"), 1},
		{"one old, no tag", []serf.Member{member("a", "1", alive), member("b", "", alive), member("c", "1", alive)}, raftOf("a", "b", "c"), 0},
		{"an old server that failed may come back", []serf.Member{member("a", "1", alive), member("b", "0", failed)}, raftOf("a", "b"), 0},
		{"a raft server serf does not know", []serf.Member{member("a", "1", alive)}, raftOf("a", "b"), 0},
		{"an old server about to join", []serf.Member{member("a", "1", alive), member("b", "", alive)}, raftOf("a"), 0},
		{"an old server that left", []serf.Member{member("a", "1", alive), member("b", "", left)}, raftOf("a"), 1},
		{"another datacenter", []serf.Member{member("a", "1", alive), {Name: "x", Status: alive,
			Tags: map[string]string{gossip.TagRole: gossip.RoleServer, gossip.TagID: "x", gossip.TagDC: "dc2"}}}, raftOf("a"), 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := logFormatOf(tc.members, "dc1", tc.inRaft); got != tc.want {
				t.Fatalf("logFormatOf = %d, want %d", got, tc.want)
			}
		})
	}
}
