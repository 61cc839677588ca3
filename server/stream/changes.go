package stream

import (
	"github.com/mk-orchestrator/mk/server/state"
	"github.com/mk-orchestrator/mk/structs"
)

// Batches turns a transaction's changes, in the order they were applied,
// into the events of each index. Changes the stream does not carry are
// left out.
func Batches(changes []state.Change) []*structs.EventBatch {
	var out []*structs.EventBatch
	for _, c := range changes {
		e := eventOf(c)
		if e == nil {
			continue
		}
		if n := len(out); n == 0 || out[n-1].Index != c.Index {
			out = append(out, &structs.EventBatch{Index: c.Index})
		}
		last := out[len(out)-1]
		last.Events = append(last.Events, e)
	}
	return out
}

// eventOf describes one change as an event (nil: not streamed).
func eventOf(c state.Change) *structs.Event {
	e := &structs.Event{Index: c.Index, Payload: c.Object}
	switch obj := c.Object.(type) {
	case *structs.Job:
		e.Topic, e.Key, e.Namespace = structs.TopicJob, obj.ID, obj.Namespace
		e.Type = pick(c.Deleted, "JobPurged", "JobRegistered")
		if !c.Deleted && obj.Stop {
			e.Type = "JobDeregistered"
		}
	case *structs.Pod:
		e.Topic, e.Key, e.Namespace = structs.TopicPod, obj.ID, obj.Namespace
		e.Type = objectEventType("Pod", c, obj.CreateIndex)
		e.FilterKeys = nonEmpty(obj.JobID, obj.NodeID)
	case *structs.Deployment:
		e.Topic, e.Key, e.Namespace = structs.TopicDeployment, obj.ID, obj.Namespace
		e.Type = objectEventType("Deployment", c, obj.CreateIndex)
		e.FilterKeys = nonEmpty(obj.JobID)
	case *structs.Node:
		e.Topic, e.Key = structs.TopicNode, obj.ID
		e.Type = pick(c.Deleted, "NodePurged", pick(obj.CreateIndex == c.Index, "NodeRegistered", "NodeUpdated"))
	case *structs.JobEvent:
		e.Topic, e.Key, e.Namespace, e.Type = obj.Topic, obj.JobID, obj.Namespace, obj.Type
		if e.Topic == "" {
			e.Topic = structs.TopicJob
		}
	default:
		return nil
	}
	return e
}

// objectEventType is kind + Created, Updated or Deleted.
func objectEventType(kind string, c state.Change, createIndex uint64) string {
	switch {
	case c.Deleted:
		return kind + "Deleted"
	case createIndex == c.Index:
		return kind + "Created"
	}
	return kind + "Updated"
}

func pick(cond bool, yes, no string) string {
	if cond {
		return yes
	}
	return no
}

func nonEmpty(keys ...string) []string {
	var out []string
	for _, k := range keys {
		if k != "" {
			out = append(out, k)
		}
	}
	return out
}
