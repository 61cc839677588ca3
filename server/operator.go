package server

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/hashicorp/raft"

	"github.com/mk-orchestrator/mk/server/state"
	"github.com/mk-orchestrator/mk/structs"
)

// snapshotMagic opens every snapshot file `mk operator snapshot save`
// writes: the magic line, a JSON line of Raft metadata, then the FSM data.
const snapshotMagic = "mk-snapshot 1\n"

// RaftConfiguration returns the current Raft membership.
func (s *Server) RaftConfiguration() (*structs.RaftConfiguration, error) {
	future := s.raft.GetConfiguration()
	if err := future.Error(); err != nil {
		return nil, fmt.Errorf("raft configuration: %w", err)
	}
	leaderAddr, _ := s.raft.LeaderWithID()
	out := &structs.RaftConfiguration{Index: future.Index()}
	for _, srv := range future.Configuration().Servers {
		out.Servers = append(out.Servers, &structs.RaftServer{
			ID:      string(srv.ID),
			Address: string(srv.Address),
			Leader:  srv.Address == leaderAddr,
			Voter:   srv.Suffrage == raft.Voter,
		})
	}
	return out, nil
}

// RaftPeers returns the Raft addresses of the configuration's servers.
func (s *Server) RaftPeers() ([]string, error) {
	future := s.raft.GetConfiguration()
	if err := future.Error(); err != nil {
		return nil, fmt.Errorf("raft configuration: %w", err)
	}
	peers := []string{}
	for _, srv := range future.Configuration().Servers {
		peers = append(peers, string(srv.Address))
	}
	return peers, nil
}

// RemoveRaftPeer removes a server, named by ID or Raft address, from the
// Raft configuration. It must run on the leader.
func (s *Server) RemoveRaftPeer(id, address string) error {
	conf, err := s.RaftConfiguration()
	if err != nil {
		return err
	}
	for _, srv := range conf.Servers {
		if (id != "" && srv.ID == id) || (address != "" && srv.Address == address) {
			if err := s.raft.RemoveServer(raft.ServerID(srv.ID), 0, 10*time.Second).Error(); err != nil {
				return fmt.Errorf("remove raft peer %s: %w", srv.ID, err)
			}
			return nil
		}
	}
	return structs.NotFoundError("raft peer", id+address)
}

// SaveSnapshot takes a Raft snapshot (or opens the latest when nothing is
// new) and writes it to w.
func (s *Server) SaveSnapshot(w io.Writer) error {
	var meta *raft.SnapshotMeta
	var rc io.ReadCloser
	future := s.raft.Snapshot()
	err := future.Error()
	switch {
	case err == nil:
		meta, rc, err = future.Open()
	case errors.Is(err, raft.ErrNothingNewToSnapshot):
		meta, rc, err = s.openLatestSnapshot()
	}
	if err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	defer rc.Close()
	head, err := json.Marshal(meta)
	if err != nil {
		return err
	}
	if _, err := io.WriteString(w, snapshotMagic+string(head)+"\n"); err != nil {
		return err
	}
	_, err = io.Copy(w, rc)
	return err
}

func (s *Server) openLatestSnapshot() (*raft.SnapshotMeta, io.ReadCloser, error) {
	metas, err := s.snapshots.List()
	if err != nil {
		return nil, nil, err
	}
	if len(metas) == 0 {
		return nil, nil, fmt.Errorf("no snapshot available")
	}
	return s.snapshots.Open(metas[0].ID)
}

// RestoreSnapshot replaces the whole cluster state with a snapshot written
// by SaveSnapshot. It must run on the leader; followers receive it through
// Raft.
func (s *Server) RestoreSnapshot(r io.Reader) error {
	br := bufio.NewReader(r)
	magic, err := br.ReadString('\n')
	if err != nil || magic != snapshotMagic {
		return structs.NewBadRequest("not an mk snapshot (bad header)")
	}
	line, err := br.ReadBytes('\n')
	if err != nil {
		return structs.NewBadRequest("snapshot metadata: %v", err)
	}
	var meta raft.SnapshotMeta
	if err := json.Unmarshal(line, &meta); err != nil {
		return structs.NewBadRequest("snapshot metadata: %v", err)
	}
	// Check the data decodes before handing it to Raft: a restore that
	// fails half way in the FSM cannot be undone.
	data, err := io.ReadAll(br)
	if err != nil {
		return structs.NewBadRequest("read snapshot: %v", err)
	}
	if int64(len(data)) != meta.Size {
		return structs.NewBadRequest("snapshot is truncated: %d bytes, metadata says %d", len(data), meta.Size)
	}
	if _, err := state.Restore(bytes.NewReader(data)); err != nil {
		return structs.NewBadRequest("snapshot data: %v", err)
	}
	if err := s.raft.Restore(&meta, bytes.NewReader(data), time.Minute); err != nil {
		return fmt.Errorf("restore snapshot: %w", err)
	}
	return nil
}

// Stats returns Raft's statistics for /v1/agent/self.
func (s *Server) Stats() map[string]string { return s.raft.Stats() }
