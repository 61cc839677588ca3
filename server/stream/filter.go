package stream

import (
	"fmt"
	"slices"
	"strings"

	"github.com/mk-orchestrator/mk/structs"
)

// Topics are the topics a filter may name; "*" names them all.
var Topics = []string{structs.TopicJob, structs.TopicPod, structs.TopicDeployment, structs.TopicNode, structs.TopicAutoscaler}

// Filter selects events. The zero Filter (or nil) passes everything.
type Filter struct {
	// Topics maps each topic to pass to the keys it passes (none: every
	// key). Empty: every topic.
	Topics map[string][]string
	// Keys, when set, pass only events whose Key or FilterKeys hold one.
	Keys []string
	// Namespace, when set, passes only events of that namespace and
	// events of no namespace (nodes).
	Namespace string
}

// ParseTopics reads topic parameters, each "Topic" or "Topic:key" (as
// Nomad's), "*" for every topic. A topic named both with and without keys
// passes every key.
func ParseTopics(values []string) (map[string][]string, error) {
	if len(values) == 0 {
		return nil, nil
	}
	out := map[string][]string{}
	all := map[string]bool{}
	for _, v := range values {
		topic, key, hasKey := strings.Cut(v, ":")
		if topic != "*" && !slices.Contains(Topics, topic) {
			return nil, &structs.ValidationError{Field: "topic",
				Msg: fmt.Sprintf("must be one of %s or *, optionally with :KEY; got %q", strings.Join(Topics, ", "), v)}
		}
		if topic == "*" {
			if hasKey {
				return nil, &structs.ValidationError{Field: "topic", Msg: fmt.Sprintf("* takes no key, got %q", v)}
			}
			return nil, nil
		}
		if !hasKey || key == "" || key == "*" {
			all[topic] = true
			out[topic] = nil
			continue
		}
		if !all[topic] {
			out[topic] = append(out[topic], key)
		}
	}
	return out, nil
}

// Match reports whether e passes the filter.
func (f *Filter) Match(e *structs.Event) bool {
	if f == nil {
		return true
	}
	if f.Namespace != "" && e.Namespace != "" && e.Namespace != f.Namespace {
		return false
	}
	if len(f.Topics) > 0 {
		keys, ok := f.Topics[e.Topic]
		if !ok || len(keys) > 0 && !hasKey(e, keys) {
			return false
		}
	}
	return len(f.Keys) == 0 || hasKey(e, f.Keys)
}

func hasKey(e *structs.Event, keys []string) bool {
	if slices.Contains(keys, e.Key) {
		return true
	}
	for _, k := range e.FilterKeys {
		if slices.Contains(keys, k) {
			return true
		}
	}
	return false
}

// batches returns the events of in that pass the filter, by batch, with
// the batches left empty dropped. Batches are shared with the broker and
// other readers: a filtered one is a new batch.
func (f *Filter) batches(in []*structs.EventBatch) []*structs.EventBatch {
	if f == nil || len(f.Topics) == 0 && len(f.Keys) == 0 && f.Namespace == "" {
		return in
	}
	out := make([]*structs.EventBatch, 0, len(in))
	for _, b := range in {
		var events []*structs.Event
		for _, e := range b.Events {
			if f.Match(e) {
				events = append(events, e)
			}
		}
		switch {
		case len(events) == len(b.Events):
			out = append(out, b)
		case len(events) > 0:
			out = append(out, &structs.EventBatch{Index: b.Index, Events: events})
		}
	}
	return out
}
