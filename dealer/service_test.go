package dealer

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/hssee/hssee/hss"
	"github.com/hssee/hssee/model"
	"github.com/hssee/hssee/secure"
)

func tinySpec(t testing.TB, first int) SessionSpec {
	t.Helper()
	c, err := model.PresetConfig("tinystories-656k")
	if err != nil {
		t.Fatal(err)
	}
	return SessionSpec{Config: c, Params: hss.DefaultParams(), MaxSeq: 16, FirstRows: first}
}

// reference makes the frames of the plan's passes 0..n-1 the way a
// client-side dealer would, from the session's seed.
func reference(t testing.TB, spec SessionSpec, seed [32]byte, id [16]byte, first int, n int) [][2][]byte {
	t.Helper()
	h := sha256.New()
	h.Write([]byte("hssee/dealer/session-seed"))
	h.Write(seed[:])
	h.Write(id[:])
	var s [32]byte
	copy(s[:], h.Sum(nil))
	m, err := secure.ShapeModel(spec.Config)
	if err != nil {
		t.Fatal(err)
	}
	d := New(nil)
	ex, err := secure.NewExec(spec.Config, spec.Params, nil, &secure.Dealer{Rand: hss.NewPRG(s), Sink: d}, spec.MaxSeq)
	if err != nil {
		t.Fatal(err)
	}
	var out [][2][]byte
	for k := range n {
		rows, pos0 := secure.PlanPass(first, uint64(k))
		before := d.Gates()
		if _, err := model.Forward[secure.Tensor](ex, m, secure.Tensor{Rows: rows, Cols: spec.Config.Dim}, rows, pos0, true); err != nil {
			t.Fatal(err)
		}
		var pass [2][]byte
		for p := range 2 {
			for _, key := range d.keys[p][before:] {
				if pass[p], err = hss.AppendKeyFrame(pass[p], key); err != nil {
					t.Fatal(err)
				}
			}
		}
		out = append(out, pass)
	}
	return out
}

// pull reads a whole delivery.
func pull(t testing.TB, ss *Session, party int, k uint64, rows, pos0 int) ([]byte, error) {
	d, err := ss.Deliver(context.Background(), party, k, rows, pos0)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	var b []byte
	for {
		fs, err := d.Next(context.Background())
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return nil, err
		}
		for _, f := range fs {
			b = append(b, f...)
		}
	}
}

// The service hands each party exactly the frames a client-side dealer
// makes from the same seed, pass after pass, once.
func TestServiceMatchesClientDealer(t *testing.T) {
	seed := [32]byte{7}
	for _, first := range []int{5, 0} { // told at open, or by the first request
		svc := NewService(ServiceConfig{Seed: &seed, Prefetch: 2})
		id := [16]byte{1, byte(first)}
		ss, err := svc.Open(id, tinySpec(t, first))
		if err != nil {
			t.Fatal(err)
		}
		const passes = 4
		want := reference(t, tinySpec(t, 5), seed, id, 5, passes)
		var wg sync.WaitGroup
		errs := make(chan error, 2*passes)
		for p := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for k := range uint64(passes) {
					rows, pos0 := secure.PlanPass(5, k)
					got, err := pull(t, ss, p, k, rows, pos0)
					if err != nil {
						errs <- err
						return
					}
					if !bytes.Equal(got, want[k][p]) {
						errs <- errors.New("material differs from the client-side dealer's")
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("first %d: %v", first, err)
		}
		// One-time: no pass is delivered twice.
		if _, err := ss.Deliver(context.Background(), 0, 1, 1, 5); !errors.Is(err, ErrDelivered) {
			t.Fatalf("replayed pass: %v", err)
		}
		// Off the plan: refused.
		if _, err := ss.Deliver(context.Background(), 1, passes, 2, 5+passes-1); !errors.Is(err, ErrPlan) {
			t.Fatalf("pass off the plan: %v", err)
		}
		if !svc.Close(id) || svc.Close(id) {
			t.Fatal("close")
		}
		if b := svc.Stats().Buffered; b != 0 {
			t.Fatalf("%d bytes held after close", b)
		}
	}
}

// The dealer stays within its memory cap (plus one gate) however far the
// parties lag, and waits for them instead.
func TestServiceMemoryBound(t *testing.T) {
	const capBytes = 256 << 10
	svc := NewService(ServiceConfig{MaxMemory: capBytes, Prefetch: 3})
	ss, err := svc.Open([16]byte{2}, tinySpec(t, 8))
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close([16]byte{2})
	// Nobody pulls: the generator fills the budget and stops.
	var peak int64
	for range 50 {
		time.Sleep(5 * time.Millisecond)
		peak = max(peak, svc.Stats().Buffered)
	}
	maxGate := largestGate(t, tinySpec(t, 8))
	if peak == 0 || peak > capBytes+maxGate {
		t.Fatalf("held %d bytes, cap %d + largest gate %d", peak, capBytes, maxGate)
	}
	// Both parties pull slowly; the service never exceeds the bound.
	var wg sync.WaitGroup
	for p := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range uint64(3) {
				rows, pos0 := secure.PlanPass(8, k)
				d, err := ss.Deliver(context.Background(), p, k, rows, pos0)
				if err != nil {
					t.Error(err)
					return
				}
				for {
					_, err := d.Next(context.Background())
					if err != nil {
						if err != io.EOF {
							t.Error(err)
						}
						break
					}
					time.Sleep(100 * time.Microsecond)
				}
				d.Close()
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	for {
		select {
		case <-done:
			if peak > capBytes+maxGate {
				t.Fatalf("held %d bytes, cap %d + largest gate %d", peak, capBytes, maxGate)
			}
			return
		case <-time.After(time.Millisecond):
			peak = max(peak, svc.Stats().Buffered)
		}
	}
}

// largestGate is the largest pair of frames of the plan's first pass.
func largestGate(t testing.TB, spec SessionSpec) int64 {
	m, _ := secure.ShapeModel(spec.Config)
	d := New(hss.NewPRG([32]byte{}))
	ex, err := secure.NewExec(spec.Config, spec.Params, nil, &secure.Dealer{Rand: hss.NewPRG([32]byte{}), Sink: d}, spec.MaxSeq)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := model.Forward[secure.Tensor](ex, m, secure.Tensor{Rows: spec.FirstRows, Cols: spec.Config.Dim}, spec.FirstRows, 0, true); err != nil {
		t.Fatal(err)
	}
	var big int64
	for i := range d.keys[0] {
		big = max(big, int64(d.keys[0][i].Size()+d.keys[1][i].Size()+2*(16+5)))
	}
	return big
}

// Closing a session wakes a party waiting for material, and its deliveries
// fail; bad specs and requests are refused with clear errors.
func TestServiceCloseAndRefusals(t *testing.T) {
	svc := NewService(ServiceConfig{Prefetch: 1})
	id := [16]byte{3}
	spec := tinySpec(t, 0)
	ss, err := svc.Open(id, spec)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Open(id, spec); !errors.Is(err, ErrExists) {
		t.Fatalf("duplicate open: %v", err)
	}
	// Pass 1 waits: pass 0 is not delivered, prefetch is 1.
	got := make(chan error, 1)
	go func() {
		_, err := ss.Deliver(context.Background(), 0, 1, 1, 4)
		got <- err
	}()
	if _, err := ss.Deliver(context.Background(), 1, 0, 4, 0); err != nil { // fixes the plan: 4 rows first
		t.Fatal(err)
	}
	select {
	case err := <-got:
		t.Fatalf("pass 1 delivered before pass 0 was done: %v", err)
	case <-time.After(30 * time.Millisecond):
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	if _, err := ss.Deliver(ctx, 1, 1, 1, 4); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("deadline: %v", err)
	}
	cancel()
	svc.Close(id)
	if err := <-got; !errors.Is(err, ErrClosed) {
		t.Fatalf("waiting delivery after close: %v", err)
	}
	if _, err := svc.Lookup(id); !errors.Is(err, ErrNoSession) {
		t.Fatalf("lookup after close: %v", err)
	}
	bad := spec
	bad.Config.Dim = 0
	if _, err := svc.Open([16]byte{4}, bad); !errors.Is(err, ErrBadSpec) {
		t.Fatalf("bad config: %v", err)
	}
	bad = spec
	bad.MaxSeq = spec.Config.MaxSeqLen + 1
	if _, err := svc.Open([16]byte{4}, bad); !errors.Is(err, ErrBadSpec) {
		t.Fatalf("too long: %v", err)
	}
	huge, _ := model.PresetConfig("llama2-7b")
	if _, err := NewService(ServiceConfig{MaxParams: 1 << 30}).Open([16]byte{5}, SessionSpec{Config: huge, Params: spec.Params, MaxSeq: 8}); !errors.Is(err, ErrBadSpec) {
		t.Fatalf("model over the parameter cap: %v", err)
	}
	ss2, err := svc.Open([16]byte{6}, spec)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ss2.Deliver(context.Background(), 2, 0, 4, 0); err == nil {
		t.Fatal("party 2 accepted")
	}
	if _, err := ss2.Deliver(context.Background(), 0, 0, 4, 3); !errors.Is(err, ErrPlan) {
		t.Fatalf("first pass not at 0: %v", err)
	}
	time.Sleep(10 * time.Millisecond)
	if n := svc.Reap(5 * time.Millisecond); n != 1 {
		t.Fatalf("reaped %d sessions", n)
	}
	svc.Shutdown()
	if _, err := svc.Open([16]byte{7}, spec); !errors.Is(err, ErrShutdown) {
		t.Fatalf("open after shutdown: %v", err)
	}
}
