package structs

import (
	"bytes"
	"fmt"
	"io"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/go-msgpack/v2/codec"
)

// MessageType is the first byte of every Raft log entry mk writes. The
// numbering is append-only: never reuse or reorder a value.
type MessageType uint8

const (
	JobRegisterRequestType    MessageType = 0
	JobDeregisterRequestType  MessageType = 1
	NodeRegisterRequestType   MessageType = 2
	NodeStatusRequestType     MessageType = 3
	NodeSchedulingRequestType MessageType = 4
	PodsUpsertRequestType     MessageType = 5
	PodStatusRequestType      MessageType = 6
	PodsDeleteRequestType     MessageType = 7
	// BatchRequestType is an entry of several commands (batch.go).
	BatchRequestType MessageType = 8
	// ReplicaSetsUpdateRequestType scales old replica sets to zero and
	// deletes those past the kept history (garbage collection).
	ReplicaSetsUpdateRequestType MessageType = 9
	// EndpointsUpdateRequestType writes the endpoints controller's view
	// of services' pods.
	EndpointsUpdateRequestType MessageType = 10
	// NodePurgeRequestType removes a node that is gone for good; its /24
	// goes back to the pool and its pods are lost.
	NodePurgeRequestType MessageType = 11
	// DeploymentUpdateRequestType is the deployment controller's write:
	// a rollout's status, its promotion, its stable version.
	DeploymentUpdateRequestType MessageType = 12
	// JobScaleRequestType sets a group's count without a new version
	// (`job scale`, the autoscaler).
	JobScaleRequestType MessageType = 13
	// EventsRecordRequestType records controllers' decisions (event.go).
	EventsRecordRequestType MessageType = 14
)

// IgnoreUnknownTypeFlag is set on message types that older servers may skip
// when they do not know them, so new optional commands can roll out.
const IgnoreUnknownTypeFlag MessageType = 128

func (t MessageType) String() string {
	switch t &^ IgnoreUnknownTypeFlag {
	case JobRegisterRequestType:
		return "JobRegister"
	case JobDeregisterRequestType:
		return "JobDeregister"
	case NodeRegisterRequestType:
		return "NodeRegister"
	case NodeStatusRequestType:
		return "NodeStatus"
	case NodeSchedulingRequestType:
		return "NodeScheduling"
	case PodsUpsertRequestType:
		return "PodsUpsert"
	case PodStatusRequestType:
		return "PodStatus"
	case PodsDeleteRequestType:
		return "PodsDelete"
	case BatchRequestType:
		return "Batch"
	case ReplicaSetsUpdateRequestType:
		return "ReplicaSetsUpdate"
	case EndpointsUpdateRequestType:
		return "EndpointsUpdate"
	case NodePurgeRequestType:
		return "NodePurge"
	case DeploymentUpdateRequestType:
		return "DeploymentUpdate"
	case JobScaleRequestType:
		return "JobScale"
	case EventsRecordRequestType:
		return "EventsRecord"
	}
	return fmt.Sprintf("MessageType(%d)", uint8(t))
}

// JobRegisterRequest registers a new job or a new version of one, with the
// objects translated from it. Everything non-deterministic (SubmitTime, IDs)
// is chosen before the request is proposed.
type JobRegisterRequest struct {
	Job     *Job
	Objects *JobObjects
	// EnforceIndex makes the write fail with ErrIndexConflict unless the
	// stored job's JobModifyIndex equals JobModifyIndex (0: must not exist).
	EnforceIndex   bool
	JobModifyIndex uint64
	// ServiceCIDR is the range the FSM gives new services' ClusterIPs
	// from: the leader's setting, carried in the entry so every replica
	// allocates the same (empty: none are allocated).
	ServiceCIDR string `json:",omitempty"`
}

// JobDeregisterRequest stops a job (its derived objects go, its history
// stays) or, with Purge, deletes it with its history.
type JobDeregisterRequest struct {
	Namespace string
	JobID     string
	Purge     bool
	// SubmitTime is the time of the stop, chosen before proposing.
	SubmitTime int64
}

// NodeRegisterRequest registers a node or refreshes its fingerprint.
type NodeRegisterRequest struct {
	Node *Node
	// PodCIDRPool is the pool the FSM gives a node without a pod CIDR its
	// /24 from: the leader's setting (empty: none is allocated).
	PodCIDRPool string `json:",omitempty"`
}

// NodePurgeRequest removes a node that is not ready.
type NodePurgeRequest struct {
	NodeID string
}

// NodeStatusRequest changes a node's status; UpdatedAt is chosen by the
// proposer.
type NodeStatusRequest struct {
	NodeID    string
	Status    string
	UpdatedAt int64
}

// NodeSchedulingRequest changes a node's drain and eligibility.
type NodeSchedulingRequest struct {
	NodeID      string
	Drain       *bool  `json:",omitempty"`
	Eligibility string `json:",omitempty"`
}

// PodsUpsertRequest writes the servers' side of pods: new pods, placements
// (a plan), stops, lost marks. What clients report is kept.
type PodsUpsertRequest struct {
	Pods []*Pod
}

// PodStatusUpdate is a client's report on one of its pods.
type PodStatusUpdate struct {
	Namespace  string
	PodID      string
	Phase      string
	IP         string                `json:",omitempty"`
	TaskStates map[string]*TaskState `json:",omitempty"`
	Healthy    bool                  `json:",omitempty"`
	Checks     []*CheckStatus        `json:",omitempty"`
}

// PodStatusRequest is a batch of pod reports from one node.
type PodStatusRequest struct {
	NodeID  string
	Updates []*PodStatusUpdate
	// UpdatedAt is the time of the report, chosen by the proposer.
	UpdatedAt int64
}

// PodsDeleteRequest deletes terminal pods (garbage collection).
type PodsDeleteRequest struct {
	Pods []NamespacedID
}

// ReplicaSetUpdate changes one replica set of a job: its stored count,
// or (Delete) the replica set itself.
type ReplicaSetUpdate struct {
	Namespace string
	JobID     string
	ID        string
	Replicas  int
	Delete    bool `json:",omitempty"`
}

// ReplicaSetsUpdateRequest is the leader's garbage collector scaling the
// replica sets of older versions to zero and deleting those beyond the
// kept history. The FSM never changes a deployment's current replica set.
type ReplicaSetsUpdateRequest struct {
	Updates []ReplicaSetUpdate
}

// DeploymentUpdate is one change the deployment controller makes to a
// deployment; the FSM applies it only while the deployment still targets
// ReplicaSetID, so a decision about a superseded rollout is dropped.
type DeploymentUpdate struct {
	Namespace         string
	ID                string
	JobID             string
	ReplicaSetID      string
	Status            string `json:",omitempty"`
	StatusDescription string `json:",omitempty"`
	Promote           bool   `json:",omitempty"`
	// StableReplicaSetID, when set, records the last replica set whose
	// rollout completed, at job version StableVersion.
	StableReplicaSetID string `json:",omitempty"`
	StableVersion      uint64 `json:",omitempty"`
	// ProgressTime, when set, is when the rollout moved on (unix nanos,
	// chosen by the proposer).
	ProgressTime int64 `json:",omitempty"`
}

// DeploymentUpdateRequest is a batch of deployment changes.
type DeploymentUpdateRequest struct {
	Updates []*DeploymentUpdate
}

// JobScaleRequest sets the count of a service group's deployment (no new
// job version); Source says who asked ("user", "autoscaler").
type JobScaleRequest struct {
	Namespace string
	JobID     string
	Group     string
	Count     int
	Source    string
	Message   string `json:",omitempty"`
	// Time is chosen by the proposer (unix nanos).
	Time int64
}

// JobRegisterResponse is what the FSM returns for a register.
type JobRegisterResponse struct {
	Index          uint64
	JobModifyIndex uint64
	Version        uint64
	// Unchanged is true when the spec equalled the stored one.
	Unchanged bool
}

// The msgpack code of the types that log entries and snapshots hold is
// generated (structs.generated.go), so they are coded without reflection.
//go:generate ../scripts/codecgen.sh

// msgpackHandle is shared: codec handles are safe for concurrent use once
// configured.
var msgpackHandle = newMsgpackHandle(false)

// canonicalHandle sorts map keys, so equal states encode to equal bytes;
// snapshots use it (state hashes compare them), log entries need not pay
// for the sort.
var canonicalHandle = newMsgpackHandle(true)

func newMsgpackHandle(canonical bool) *codec.MsgpackHandle {
	h := &codec.MsgpackHandle{}
	h.RawToString = true
	h.WriteExt = true
	h.Canonical = canonical
	return h
}

// Encoders and decoders are pooled: building one per log entry showed in
// the register benchmark's allocation profile.
var (
	encoderPool = sync.Pool{New: func() any { return codec.NewEncoderBytes(nil, msgpackHandle) }}
	decoderPool = sync.Pool{New: func() any { return codec.NewDecoderBytes(nil, msgpackHandle) }}
)

// Encode serializes a command as its type byte followed by msgpack.
func Encode(t MessageType, msg any) ([]byte, error) {
	enc := encoderPool.Get().(*codec.Encoder)
	defer func() {
		enc.Reset(io.Discard) // drop the reference to this entry's buffer
		encoderPool.Put(enc)
	}()
	var out bytes.Buffer
	out.Grow(min(max(int(encodedSize[t].Load()), 512), 16<<10))
	out.WriteByte(uint8(t))
	enc.Reset(&out)
	if err := enc.Encode(msg); err != nil {
		return nil, fmt.Errorf("encode %s: %w", t, err)
	}
	encodedSize[t].Store(int64(out.Len()))
	return out.Bytes(), nil
}

// encodedSize is the size of the last entry of each type: entries of a
// type are alike, and growing the buffer as it fills showed in the
// leader's profile. Above 16 KB (large pod entries) the buffer grows as
// it fills, so a small entry never holds a large buffer in the log cache.
var encodedSize [256]atomic.Int64

// Decode deserializes a msgpack payload (without its type byte) into out.
func Decode(buf []byte, out any) error {
	dec := decoderPool.Get().(*codec.Decoder)
	defer func() {
		dec.ResetBytes(nil)
		decoderPool.Put(dec)
	}()
	dec.ResetBytes(buf)
	return dec.Decode(out)
}

// ContentTypeMsgpack is the media type of an API answer in msgpack:
// agents ask for it on the watches whose answers are large (every
// service and endpoint of the cluster), where JSON's decoding cost
// several times msgpack's (docs/architecture.md).
const ContentTypeMsgpack = "application/vnd.msgpack"

// NewStreamEncoder writes msgpack values to w as they are encoded;
// NewDecoder reads them.
func NewStreamEncoder(w io.Writer) *codec.Encoder {
	return codec.NewEncoder(w, msgpackHandle)
}

// NewEncoder returns a canonical msgpack encoder; used by snapshots.
func NewEncoder(w interface{ Write([]byte) (int, error) }) *codec.Encoder {
	return codec.NewEncoder(w, canonicalHandle)
}

// NewDecoder reads msgpack values from a stream; used by snapshot restore.
func NewDecoder(r interface{ Read([]byte) (int, error) }) *codec.Decoder {
	return codec.NewDecoder(r, msgpackHandle)
}
