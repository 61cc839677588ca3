package state

import (
	"encoding/json"
	"fmt"

	"go.etcd.io/bbolt"
)

// keyLastIP (bucket meta) is the address of the last lease stored.
var keyLastIP = []byte("last_leased_ip")

// IPLease is a pod's address in its node's pod subnet (client/network's
// IPAM), kept until the pod's network is destroyed: a restarted client
// gives a recovered pod the address it had.
type IPLease struct {
	PodID string
	// IP is the pod's address; Subnet the node's pod CIDR it came from (a
	// lease of another subnet is stale: the node's CIDR changed).
	IP     string
	Subnet string
	// Created is unix nanos.
	Created int64
}

// IPLeases returns every stored lease.
func (d *DB) IPLeases() ([]*IPLease, error) {
	var out []*IPLease
	err := d.db.View(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketLeases).ForEach(func(k, v []byte) error {
			var l IPLease
			if err := json.Unmarshal(v, &l); err != nil {
				return fmt.Errorf("ip lease %s: %w", k, err)
			}
			out = append(out, &l)
			return nil
		})
	})
	return out, err
}

// PutIPLease stores a pod's lease, replacing the one it had, and
// remembers its address as the last one leased.
func (d *DB) PutIPLease(l *IPLease) error {
	buf, err := json.Marshal(l)
	if err != nil {
		return err
	}
	return d.db.Update(func(tx *bbolt.Tx) error {
		if err := tx.Bucket(bucketLeases).Put([]byte(l.PodID), buf); err != nil {
			return err
		}
		return tx.Bucket(bucketMeta).Put(keyLastIP, []byte(l.IP))
	})
}

// LastLeasedIP is the address of the last lease stored ("" for none): an
// IPAM goes on after it, so a released address is not reused at once,
// not even after a restart.
func (d *DB) LastLeasedIP() (string, error) {
	var ip string
	err := d.db.View(func(tx *bbolt.Tx) error {
		ip = string(tx.Bucket(bucketMeta).Get(keyLastIP))
		return nil
	})
	return ip, err
}

// DeleteIPLease removes a pod's lease; a pod without one is not an error.
func (d *DB) DeleteIPLease(podID string) error {
	return d.db.Update(func(tx *bbolt.Tx) error { return tx.Bucket(bucketLeases).Delete([]byte(podID)) })
}
