// Package state is a client's local state: its node ID, the pods it runs,
// the handles of their tasks and the IP leases of their networks, in
// bbolt under data_dir, so a restarted client reattaches to its tasks
// (and its pods keep their IPs) instead of starting them again.
package state

import (
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"go.etcd.io/bbolt"

	"github.com/mk-orchestrator/mk/drivers"
	"github.com/mk-orchestrator/mk/structs"
)

var (
	bucketMeta    = []byte("meta")
	bucketPods    = []byte("pods")
	bucketHandles = []byte("handles")
	bucketLeases  = []byte("ip_leases")
	keyNodeID     = []byte("node_id")
)

// PodRecord is what the client keeps of a pod it runs: the pod as it was
// given and its tasks' states (restarts survive a client restart).
type PodRecord struct {
	Pod        *structs.Pod
	TaskStates map[string]*structs.TaskState
	// Checks are the pod's latest check results: a restarted client
	// reports them until its own first results, so a healthy pod does
	// not look unhealthy while the client comes back.
	Checks []*structs.CheckStatus `json:",omitempty"`
}

// DB is the client's local state. Methods are safe for concurrent use.
type DB struct {
	db *bbolt.DB
}

// Open opens (or creates) the state file under dir.
func Open(dir string) (*DB, error) {
	db, err := bbolt.Open(filepath.Join(dir, "client.db"), 0o600, &bbolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("open client state: %w", err)
	}
	err = db.Update(func(tx *bbolt.Tx) error {
		for _, b := range [][]byte{bucketMeta, bucketPods, bucketHandles, bucketLeases} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("init client state: %w", err)
	}
	return &DB{db: db}, nil
}

// Close closes the state file.
func (d *DB) Close() error { return d.db.Close() }

// NodeID returns the stored node ID ("" when none yet).
func (d *DB) NodeID() (string, error) {
	var id string
	err := d.db.View(func(tx *bbolt.Tx) error {
		id = string(tx.Bucket(bucketMeta).Get(keyNodeID))
		return nil
	})
	return id, err
}

// SetNodeID stores the node ID.
func (d *DB) SetNodeID(id string) error {
	return d.db.Update(func(tx *bbolt.Tx) error { return tx.Bucket(bucketMeta).Put(keyNodeID, []byte(id)) })
}

// PutPod stores a pod record.
func (d *DB) PutPod(rec *PodRecord) error { return d.put(bucketPods, rec.Pod.ID, rec) }

// PutHandle stores a task's handle.
func (d *DB) PutHandle(h *drivers.TaskHandle) error { return d.put(bucketHandles, h.TaskID(), h) }

func (d *DB) put(bucket []byte, key string, v any) error {
	buf, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return d.db.Update(func(tx *bbolt.Tx) error { return tx.Bucket(bucket).Put([]byte(key), buf) })
}

// Pods returns every stored pod record.
func (d *DB) Pods() ([]*PodRecord, error) {
	var out []*PodRecord
	err := d.db.View(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketPods).ForEach(func(k, v []byte) error {
			var rec PodRecord
			if err := json.Unmarshal(v, &rec); err != nil {
				return fmt.Errorf("pod record %s: %w", k, err)
			}
			out = append(out, &rec)
			return nil
		})
	})
	return out, err
}

// Handle returns a task's handle, or nil.
func (d *DB) Handle(taskID string) (*drivers.TaskHandle, error) {
	var h *drivers.TaskHandle
	err := d.db.View(func(tx *bbolt.Tx) error {
		v := tx.Bucket(bucketHandles).Get([]byte(taskID))
		if v == nil {
			return nil
		}
		h = &drivers.TaskHandle{}
		return json.Unmarshal(v, h)
	})
	return h, err
}

// DeletePod removes a pod's record and its tasks' handles.
func (d *DB) DeletePod(podID string, taskNames []string) error {
	return d.db.Update(func(tx *bbolt.Tx) error {
		errs := []error{tx.Bucket(bucketPods).Delete([]byte(podID))}
		for _, t := range taskNames {
			errs = append(errs, tx.Bucket(bucketHandles).Delete([]byte(drivers.TaskID(podID, t))))
		}
		return errors.Join(errs...)
	})
}
