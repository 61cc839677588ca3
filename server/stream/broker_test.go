package stream

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/mk-orchestrator/mk/structs"
)

// batch is a batch at index with n pod events keyed p<index>-<i>.
func batch(index uint64, n int) *structs.EventBatch {
	b := &structs.EventBatch{Index: index}
	for i := 0; i < n; i++ {
		b.Events = append(b.Events, &structs.Event{Topic: structs.TopicPod, Type: "PodUpdated",
			Key: fmt.Sprintf("p%d-%d", index, i), Namespace: "default", Index: index})
	}
	return b
}

// indexes are the indexes of batches.
func indexes(batches []*structs.EventBatch) []uint64 {
	var out []uint64
	for _, b := range batches {
		out = append(out, b.Index)
	}
	return out
}

// nextNow is Next with a deadline: a read that should find events at
// once fails the test rather than hang it.
func nextNow(t *testing.T, s *Subscription) []*structs.EventBatch {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, err := s.Next(ctx)
	if err != nil {
		t.Fatalf("next after %d: %v", s.Index(), err)
	}
	return out
}

func TestBrokerDeliversInIndexOrder(t *testing.T) {
	b := NewBroker(100)
	b.Publish([]*structs.EventBatch{batch(3, 2), batch(5, 1)})
	b.Publish([]*structs.EventBatch{batch(9, 3)})
	// A repeated or older index is never published twice.
	b.Publish([]*structs.EventBatch{batch(9, 1), batch(4, 1), {Index: 10}})

	sub, err := b.Subscribe(0, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := nextNow(t, sub)
	if fmt.Sprint(indexes(got)) != "[3 5 9]" {
		t.Fatalf("indexes = %v, want [3 5 9]", indexes(got))
	}
	if n := len(got[2].Events); n != 3 {
		t.Fatalf("index 9 came with %d events, want its 3 together", n)
	}
	if sub.Index() != 9 || b.LastIndex() != 9 {
		t.Fatalf("cursor %d, last %d; want 9, 9", sub.Index(), b.LastIndex())
	}
}

func TestBrokerResumesAfterIndex(t *testing.T) {
	b := NewBroker(100)
	for i := uint64(1); i <= 6; i++ {
		b.Publish([]*structs.EventBatch{batch(i*2, 1)})
	}
	tests := []struct {
		after uint64
		want  string
	}{
		{0, "[2 4 6 8 10 12]"},
		{4, "[6 8 10 12]"},
		{5, "[6 8 10 12]"},
		{11, "[12]"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.after), func(t *testing.T) {
			sub, err := b.Subscribe(tt.after, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := fmt.Sprint(indexes(nextNow(t, sub))); got != tt.want {
				t.Fatalf("after %d: %s, want %s", tt.after, got, tt.want)
			}
		})
	}
}

func TestBrokerWaitsForNewEvents(t *testing.T) {
	b := NewBroker(100)
	b.Publish([]*structs.EventBatch{batch(1, 1)})
	sub, err := b.Subscribe(b.LastIndex(), nil)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan []*structs.EventBatch)
	go func() {
		out, _ := sub.Next(context.Background())
		got <- out
	}()
	b.Publish([]*structs.EventBatch{batch(7, 2)})
	select {
	case out := <-got:
		if fmt.Sprint(indexes(out)) != "[7]" {
			t.Fatalf("got %v, want [7]", indexes(out))
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a waiting reader was not woken by a publish")
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := sub.Next(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("next with nothing new and an ended context: %v, want context.Canceled", err)
	}
}

func TestBrokerIsBounded(t *testing.T) {
	b := NewBroker(10)
	for i := uint64(1); i <= 20; i++ {
		b.Publish([]*structs.EventBatch{batch(i, 3)})
	}
	// 10 events: the last 3 batches (9 events) fit, a 4th would not.
	if b.held > 10 || len(b.batches) != 3 || b.Oldest() != 17 {
		t.Fatalf("holds %d events in %d batches, oldest after %d; want <= 10 in 3, after 17", b.held, len(b.batches), b.Oldest())
	}
	// A batch larger than the whole buffer is still held whole.
	b.Publish([]*structs.EventBatch{batch(21, 15)})
	if len(b.batches) != 1 || len(b.batches[0].Events) != 15 {
		t.Fatalf("after a batch of 15: %d batches, want the one whole", len(b.batches))
	}
}

func TestBrokerGone(t *testing.T) {
	b := NewBroker(4)
	slow, err := b.Subscribe(0, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := uint64(1); i <= 10; i++ {
		b.Publish([]*structs.EventBatch{batch(i, 1)})
	}
	// A reader that fell behind the buffer learns it; it is never
	// handed the events after the gap.
	if _, err := slow.Next(context.Background()); !errors.Is(err, structs.ErrGone) {
		t.Fatalf("slow reader: %v, want ErrGone", err)
	}
	// A new reader from before the buffer is refused; from its oldest
	// index on it is served.
	if _, err := b.Subscribe(5, nil); !errors.Is(err, structs.ErrGone) {
		t.Fatalf("subscribe at 5 with events after 6 held: %v, want ErrGone", err)
	}
	sub, err := b.Subscribe(b.Oldest(), nil)
	if err != nil {
		t.Fatalf("subscribe at the oldest index: %v", err)
	}
	if got := fmt.Sprint(indexes(nextNow(t, sub))); got != "[7 8 9 10]" {
		t.Fatalf("from the oldest: %s, want [7 8 9 10]", got)
	}
}

func TestBrokerReset(t *testing.T) {
	b := NewBroker(100)
	b.Publish([]*structs.EventBatch{batch(3, 1), batch(4, 1)})
	sub, err := b.Subscribe(3, nil)
	if err != nil {
		t.Fatal(err)
	}
	waiting := make(chan error)
	go func() {
		_, err := sub.Next(context.Background())
		if err == nil {
			_, err = sub.Next(context.Background())
		}
		waiting <- err
	}()
	// A snapshot restored at 50: the reader at 4 would miss 5..50.
	b.Reset(50)
	select {
	case err := <-waiting:
		if !errors.Is(err, structs.ErrGone) {
			t.Fatalf("reader across a reset: %v, want ErrGone", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a reset did not wake the waiting reader")
	}
	if _, err := b.Subscribe(0, nil); !errors.Is(err, structs.ErrGone) {
		t.Fatalf("subscribe at 0 after a reset at 50: %v, want ErrGone", err)
	}
	sub, err = b.Subscribe(50, nil)
	if err != nil {
		t.Fatal(err)
	}
	b.Publish([]*structs.EventBatch{batch(51, 1)})
	if got := fmt.Sprint(indexes(nextNow(t, sub))); got != "[51]" {
		t.Fatalf("after the reset: %s, want [51]", got)
	}
}

// TestBrokerPublishDoesNotWaitForReaders has many readers that never
// read while the FSM publishes far more than the buffer holds.
func TestBrokerPublishDoesNotWaitForReaders(t *testing.T) {
	b := NewBroker(64)
	for i := 0; i < 100; i++ {
		if _, err := b.Subscribe(0, nil); err != nil {
			t.Fatal(err)
		}
	}
	done := make(chan struct{})
	go func() {
		for i := uint64(1); i <= 10000; i++ {
			b.Publish([]*structs.EventBatch{batch(i, 1)})
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("publishing waited on readers")
	}
}

func TestSubscriptionFilters(t *testing.T) {
	b := NewBroker(100)
	node := &structs.Event{Topic: structs.TopicNode, Type: "NodeUpdated", Key: "n1", Index: 2}
	job := &structs.Event{Topic: structs.TopicJob, Type: "JobRegistered", Key: "web", Namespace: "default", Index: 3}
	pod := &structs.Event{Topic: structs.TopicPod, Type: "PodCreated", Key: "p1", Namespace: "default", FilterKeys: []string{"web", "n1"}, Index: 3}
	other := &structs.Event{Topic: structs.TopicPod, Type: "PodCreated", Key: "p2", Namespace: "dev", FilterKeys: []string{"api"}, Index: 4}
	b.Publish([]*structs.EventBatch{{Index: 2, Events: []*structs.Event{node}}, {Index: 3, Events: []*structs.Event{job, pod}}, {Index: 4, Events: []*structs.Event{other}}})
	tests := []struct {
		name   string
		filter *Filter
		want   string
	}{
		{"all", nil, "2:NodeUpdated 3:JobRegistered 3:PodCreated 4:PodCreated"},
		{"pods", &Filter{Topics: map[string][]string{"Pod": nil}}, "3:PodCreated 4:PodCreated"},
		{"pods of job web", &Filter{Topics: map[string][]string{"Pod": {"web"}}}, "3:PodCreated"},
		{"key n1", &Filter{Keys: []string{"n1"}}, "2:NodeUpdated 3:PodCreated"},
		{"namespace dev keeps nodes", &Filter{Namespace: "dev"}, "2:NodeUpdated 4:PodCreated"},
		{"nothing", &Filter{Topics: map[string][]string{"Autoscaler": nil}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sub, err := b.Subscribe(0, tt.filter)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			defer cancel()
			out, err := sub.Next(ctx)
			if err != nil && !errors.Is(err, context.DeadlineExceeded) {
				t.Fatal(err)
			}
			var got []string
			for _, batch := range out {
				for _, e := range batch.Events {
					got = append(got, fmt.Sprintf("%d:%s", batch.Index, e.Type))
				}
			}
			if s := fmt.Sprint(got); s != "["+tt.want+"]" {
				t.Fatalf("got %s, want [%s]", s, tt.want)
			}
			// Filtered-out batches move the cursor too: a reader resumes
			// after them.
			if sub.Index() != 4 {
				t.Fatalf("cursor %d, want 4", sub.Index())
			}
		})
	}
}

func TestParseTopics(t *testing.T) {
	tests := []struct {
		in      []string
		want    string
		wantErr string
	}{
		{nil, "map[]", ""},
		{[]string{"Pod"}, "map[Pod:[]]", ""},
		{[]string{"Pod:a", "Pod:b", "Job"}, "map[Job:[] Pod:[a b]]", ""},
		{[]string{"Pod", "Pod:a"}, "map[Pod:[]]", ""},
		{[]string{"Pod:*"}, "map[Pod:[]]", ""},
		{[]string{"Job", "*"}, "map[]", ""},
		{[]string{"Pods"}, "", `topic must be one of Job, Pod, Deployment, Node, Autoscaler or *, optionally with :KEY; got "Pods"`},
		{[]string{"*:x"}, "", `topic * takes no key, got "*:x"`},
	}
	for _, tt := range tests {
		got, err := ParseTopics(tt.in)
		if tt.wantErr != "" {
			if err == nil || err.Error() != tt.wantErr {
				t.Errorf("ParseTopics(%q) error = %v, want %s", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || fmt.Sprint(got) != tt.want {
			t.Errorf("ParseTopics(%q) = %v, %v; want %s", tt.in, got, err, tt.want)
		}
	}
}

// TestBrokerConcurrentReaders has readers follow while the FSM publishes
// past the buffer: each reader gets increasing indexes, and either all
// of them or ErrGone (run with -race).
func TestBrokerConcurrentReaders(t *testing.T) {
	b := NewBroker(32)
	const last = 2000
	errs := make(chan error, 4)
	for r := 0; r < 4; r++ {
		sub, err := b.Subscribe(0, nil)
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			var prev uint64
			for prev < last {
				batches, err := sub.Next(context.Background())
				if errors.Is(err, structs.ErrGone) {
					errs <- nil // fell behind: told so
					return
				}
				if err != nil {
					errs <- err
					return
				}
				for _, batch := range batches {
					if batch.Index != prev+1 {
						errs <- fmt.Errorf("index %d after %d", batch.Index, prev)
						return
					}
					prev = batch.Index
				}
			}
			errs <- nil
		}()
	}
	for i := uint64(1); i <= last; i++ {
		b.Publish([]*structs.EventBatch{batch(i, 1)})
	}
	for r := 0; r < 4; r++ {
		select {
		case err := <-errs:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("a reader neither finished nor fell behind")
		}
	}
}
