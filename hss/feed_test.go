package hss

import (
	"errors"
	"sync"
	"testing"
	"time"
)

// A feed hands keys to its consumer in order while the producer is held
// back by the byte limit, and never holds more than the limit plus one key.
func TestFeedOrderAndBound(t *testing.T) {
	const n, size, limit = 200, 100, 1000
	m := NewFeed(limit)
	var maxQueued int64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range n {
			if err := m.Feed(&sizedKey{fakeKey{kind: "k", n: i}, size}); err != nil {
				t.Errorf("feed %d: %v", i, err)
				return
			}
			m.mu.Lock()
			maxQueued = max(maxQueued, m.queued)
			m.mu.Unlock()
		}
		m.End(nil)
	}()
	for i := range n {
		if i%17 == 0 {
			time.Sleep(time.Millisecond) // let the producer run into the limit
		}
		if _, err := m.Take("k", i); err != nil {
			t.Fatalf("take %d: %v", i, err)
		}
	}
	wg.Wait()
	if left, err := m.Drain(); left != 0 || err != nil {
		t.Fatalf("drain: %d left, %v", left, err)
	}
	if _, err := m.Take("k", n); err == nil {
		t.Fatal("take past the end of an ended feed succeeded")
	}
	if maxQueued > limit {
		t.Fatalf("queued %d bytes, limit %d", maxQueued, limit)
	}
}

// Ending a feed with an error wakes a waiting Take with that error and
// makes a blocked Feed fail; Waiting reports the wait.
func TestFeedEndWakesBothSides(t *testing.T) {
	m := NewFeed(150)
	stop := errors.New("dealer gone")
	got := make(chan error, 1)
	go func() {
		_, err := m.Take("k", 1)
		got <- err
	}()
	for m.Waiting().IsZero() {
		time.Sleep(time.Millisecond)
	}
	m.End(stop)
	if err := <-got; !errors.Is(err, stop) {
		t.Fatalf("take: %v, want %v", err, stop)
	}
	if !m.Waiting().IsZero() {
		t.Fatal("still waiting after the end")
	}

	m = NewFeed(150)
	if err := m.Feed(&sizedKey{fakeKey{kind: "k", n: 1}, 100}); err != nil {
		t.Fatal(err)
	}
	fed := make(chan error, 1)
	go func() { fed <- m.Feed(&sizedKey{fakeKey{kind: "k", n: 2}, 100}) }()
	select {
	case err := <-fed:
		t.Fatalf("feed over the limit returned %v", err)
	case <-time.After(20 * time.Millisecond):
	}
	m.End(stop)
	if err := <-fed; !errors.Is(err, ErrFeedEnded) {
		t.Fatalf("blocked feed: %v", err)
	}
	if _, err := m.Take("k", 1); !errors.Is(err, stop) {
		t.Fatalf("take after a failed end: %v", err)
	}
	if left, err := m.Drain(); left != 0 || !errors.Is(err, stop) {
		t.Fatalf("drain: %d, %v", left, err)
	}
}

type sizedKey struct {
	fakeKey
	size int
}

func (k *sizedKey) Size() int { return k.size }

// Drain reports itself as waiting until the feed ends (a watchdog can end a
// feed whose producer never closes it), and returns what was left.
func TestFeedDrainWaits(t *testing.T) {
	m := NewFeed(0)
	if err := m.Feed(&sizedKey{fakeKey{kind: "k", n: 1}, 8}); err != nil {
		t.Fatal(err)
	}
	type res struct {
		left int
		err  error
	}
	got := make(chan res, 1)
	go func() {
		left, err := m.Drain()
		got <- res{left, err}
	}()
	for m.Waiting().IsZero() {
		time.Sleep(time.Millisecond)
	}
	stall := errors.New("no end in time")
	m.End(stall)
	if r := <-got; r.left != 0 || !errors.Is(r.err, stall) {
		t.Fatalf("drain: %d left, %v", r.left, r.err)
	}
	plain := NewMaterial(&fakeKey{kind: "k", n: 1})
	if left, err := plain.Drain(); left != 1 || err != nil {
		t.Fatalf("plain queue: %d, %v", left, err)
	}
}
