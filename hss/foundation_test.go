package hss

import (
	"bytes"
	"crypto/aes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite testdata known-answer files")

// testRNG is a deterministic io.Reader for tests.
func testRNG(seed uint64) *PRG {
	var s [32]byte
	for i := range 8 {
		s[i] = byte(seed >> (8 * i))
	}
	s[31] = 0xA5
	return NewPRG(s)
}

func TestFixedRoundTrip(t *testing.T) {
	tests := []struct {
		frac uint
		x    float64
		want uint64
	}{
		{12, 1, 4096},
		{12, -1, ^uint64(4096) + 1},
		{12, 0.5, 2048},
		{12, 1.0 / 8192, 1}, // rounds half away from zero
		{16, -3.25, ^uint64(212992) + 1},
		{0, 7.4, 7},
		{12, math.Inf(1), math.MaxInt64},
		{12, math.Inf(-1), 1 << 63},
		{12, math.NaN(), 0},
	}
	for _, tc := range tests {
		fx := Fixed{Frac: tc.frac}
		if got := fx.Encode(tc.x); got != tc.want {
			t.Errorf("Frac=%d Encode(%v) = %#x, want %#x", tc.frac, tc.x, got, tc.want)
		}
	}
	fx := Fixed{Frac: 14}
	r := rand.New(rand.NewPCG(1, 2))
	xs := make([]float64, 1000)
	for i := range xs {
		xs[i] = (r.Float64()*2 - 1) * 1e6
	}
	for i, y := range fx.DecodeVec(fx.EncodeVec(xs)) {
		if d := math.Abs(y - xs[i]); d > 0.5/fx.Scale()+1e-9 {
			t.Fatalf("round trip of %v gave %v (err %v)", xs[i], y, d)
		}
	}
	if (Fixed{Frac: 63}).Validate() == nil || (Fixed{Frac: 16}).Validate() != nil {
		t.Error("Validate range wrong")
	}
}

type prgKAT struct {
	Seed   string   `json:"seed"`
	Stream string   `json:"stream_hex"`
	Words  []uint64 `json:"words_after_stream"`
}

// TestPRGKnownAnswer replays testdata/prg_kat.json: the first 96 bytes of the keystream of a fixed seed,
// then 4 words read with Uint64s. It also checks the first block against AES-256(seed, 0^128), i.e. that
// the PRG is standard AES-256-CTR with a zero initial counter.
func TestPRGKnownAnswer(t *testing.T) {
	path := filepath.Join("testdata", "prg_kat.json")
	var seed [32]byte
	for i := range seed {
		seed[i] = byte(i*7 + 3)
	}
	p := NewPRG(seed)
	stream := make([]byte, 96)
	p.Read(stream)
	words := make([]uint64, 4)
	p.Uint64s(words)
	got := prgKAT{Seed: hex.EncodeToString(seed[:]), Stream: hex.EncodeToString(stream), Words: words}
	if *update {
		b, _ := json.MarshalIndent(got, "", "  ")
		if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var want prgKAT
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatal(err)
	}
	if got.Seed != want.Seed || got.Stream != want.Stream || len(want.Words) != 4 {
		t.Fatalf("keystream mismatch:\n got %s\nwant %s", got.Stream, want.Stream)
	}
	for i := range words {
		if words[i] != want.Words[i] {
			t.Fatalf("word %d = %#x, want %#x", i, words[i], want.Words[i])
		}
	}
	blk, _ := aes.NewCipher(seed[:])
	var zero, first [16]byte
	blk.Encrypt(first[:], zero[:])
	if !bytes.Equal(first[:], stream[:16]) {
		t.Fatal("first block is not AES-256(seed, 0)")
	}
	// Uint64s must continue the byte stream exactly, also across its internal chunking.
	a, b2 := NewPRG(seed), NewPRG(seed)
	big := make([]uint64, 10000)
	a.Uint64s(big[:3])
	a.Uint64s(big[3:])
	raw := make([]byte, 80000)
	b2.Read(raw)
	for i, w := range big {
		if w != uint64(raw[8*i])|uint64(raw[8*i+1])<<8|uint64(raw[8*i+2])<<16|uint64(raw[8*i+3])<<24|
			uint64(raw[8*i+4])<<32|uint64(raw[8*i+5])<<40|uint64(raw[8*i+6])<<48|uint64(raw[8*i+7])<<56 {
			t.Fatalf("Uint64s diverges from Read at word %d", i)
		}
	}
}

func TestShareReconstruct(t *testing.T) {
	rng := testRNG(1)
	x := make([]uint64, 777)
	rng.Uint64s(x)
	seed, x1, err := Share(x, rng)
	if err != nil {
		t.Fatal(err)
	}
	x0 := ExpandShare(seed, len(x))
	got := Reconstruct(x0, x1)
	for i := range x {
		if got[i] != x[i] {
			t.Fatalf("element %d: %#x != %#x", i, got[i], x[i])
		}
	}
	if _, _, err := Share(x, bytes.NewReader(make([]byte, 5))); err == nil {
		t.Fatal("short rng accepted")
	}
}

func TestPackBits(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for bits := uint(1); bits <= 64; bits++ {
		for _, n := range []int{0, 1, 7, 8, 63, 64, 65, 333} {
			vals := make([]uint64, n)
			for i := range vals {
				vals[i] = r.Uint64()
			}
			b := PackBits([]byte{0xEE}, vals, bits)
			if len(b) != 1+PackedLen(n, bits) || b[0] != 0xEE {
				t.Fatalf("bits=%d n=%d: packed length %d", bits, n, len(b))
			}
			out := make([]uint64, n)
			if err := UnpackBits(out, b[1:], n, bits); err != nil {
				t.Fatal(err)
			}
			for i := range vals {
				if out[i] != vals[i]&Mask(bits) {
					t.Fatalf("bits=%d n=%d i=%d: %#x != %#x", bits, n, i, out[i], vals[i]&Mask(bits))
				}
			}
			if n > 0 && UnpackBits(out, b[2:], n, bits) == nil {
				t.Fatalf("bits=%d n=%d: short input accepted", bits, n)
			}
		}
	}
	if UnpackBits(nil, nil, 0, 0) == nil || UnpackBits(nil, nil, 0, 65) == nil || UnpackBits(make([]uint64, 1), nil, 2, 8) == nil {
		t.Fatal("bad widths or short destination accepted")
	}
}

func FuzzUnpackBits(f *testing.F) {
	f.Add([]byte{1, 2, 3, 4, 5}, uint8(13), uint16(3))
	f.Add([]byte{}, uint8(64), uint16(0))
	f.Add(make([]byte, 16), uint8(64), uint16(2))
	f.Fuzz(func(t *testing.T, b []byte, bits uint8, n uint16) {
		dst := make([]uint64, n)
		err := UnpackBits(dst, b, int(n), uint(bits))
		if err != nil {
			return
		}
		again := PackBits(nil, dst, uint(bits))
		out := make([]uint64, n)
		if err := UnpackBits(out, again, int(n), uint(bits)); err != nil {
			t.Fatal(err)
		}
		for i := range out {
			if out[i] != dst[i] {
				t.Fatal("repack mismatch")
			}
		}
	})
}

func FuzzDec(f *testing.F) {
	var e Enc
	e.U8(1)
	e.U32(5)
	e.Seed([32]byte{9})
	e.Packed([]uint64{1, 2, 3, 4, 5}, 11)
	f.Add(e.Bytes())
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		d := NewDec(b)
		d.U8()
		n := d.U32()
		d.Seed()
		v := d.Packed(int(n), 11)
		if d.Finish() == nil && len(v) != int(n) {
			t.Fatal("length mismatch without error")
		}
	})
}

func TestPipeStatsAndClose(t *testing.T) {
	a, b := Pipe()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range 3 {
			got, err := b.Exchange(make([]byte, 10+i))
			if err != nil || len(got) != 5 {
				t.Errorf("b round %d: %v, %d bytes", i, err, len(got))
			}
		}
	}()
	for i := range 3 {
		got, err := a.Exchange(make([]byte, 5))
		if err != nil || len(got) != 10+i {
			t.Fatalf("a round %d: %v, %d bytes", i, err, len(got))
		}
	}
	wg.Wait()
	if s := a.Stats(); s != (Stats{BytesSent: 15, BytesRecv: 33, Rounds: 3}) {
		t.Fatalf("a stats %+v", s)
	}
	if s := b.Stats(); s != (Stats{BytesSent: 33, BytesRecv: 15, Rounds: 3}) {
		t.Fatalf("b stats %+v", s)
	}
	// A pending Exchange is released by Close of the other end.
	done := make(chan error)
	go func() { _, err := a.Exchange([]byte{1}); done <- err }()
	time.Sleep(10 * time.Millisecond)
	b.(interface{ Close() error }).Close()
	if err := <-done; !errors.Is(err, ErrClosed) {
		t.Fatalf("got %v, want ErrClosed", err)
	}
}

// TestPipeConcurrentSenders checks that concurrent Exchange calls on one end become separate rounds.
func TestPipeConcurrentSenders(t *testing.T) {
	a, b := Pipe()
	const n = 50
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() { defer wg.Done(); a.Exchange([]byte{1, 2}) }()
	}
	for range n {
		if _, err := b.Exchange([]byte{3}); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	if s := a.Stats(); s.Rounds != n || s.BytesSent != 2*n || s.BytesRecv != n {
		t.Fatalf("stats %+v", s)
	}
}

func TestWithLinkDelay(t *testing.T) {
	a, b := Pipe()
	const rtt = 40 * time.Millisecond
	la, lb := WithLink(a, rtt, 8e6), WithLink(b, rtt, 8e6) // 1 MB/s
	go lb.Exchange(make([]byte, 20000))                    // 20 ms at 1 MB/s
	start := time.Now()
	if _, err := la.Exchange([]byte{1}); err != nil {
		t.Fatal(err)
	}
	// Only the lower bound is a property of the link (a busy machine may
	// take longer); the delay's accuracy is TestWithLinkSubMillisecond's log.
	if el := time.Since(start); el < 40*time.Millisecond {
		t.Fatalf("round took %v, less than rtt/2 + 20ms = 40ms", el)
	}
	if la.Stats().Rounds != 1 {
		t.Fatal("stats not forwarded")
	}
}

func TestOpenBits(t *testing.T) {
	rng := testRNG(2)
	x := make([]uint64, 1001)
	rng.Uint64s(x)
	seed, x1, _ := Share(x, rng)
	x0 := ExpandShare(seed, len(x))
	for _, bits := range []uint{1, 13, 37, 48, 64} {
		var got [2][]uint64
		s0, s1, err := RunPair(Fixed{Frac: 12}, nil, nil, func(p *Party) error {
			sh := x0
			if p.ID == 1 {
				sh = x1
			}
			var err error
			got[p.ID], err = p.OpenBits(sh, bits)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, g := range got {
			for i := range x {
				if g[i] != x[i]&Mask(bits) {
					t.Fatalf("bits=%d: element %d wrong", bits, i)
				}
			}
		}
		if want := int64(PackedLen(len(x), bits)); s0.BytesSent != want || s1.BytesSent != want || s0.Rounds != 1 {
			t.Fatalf("bits=%d: stats %+v %+v, want %d bytes each, 1 round", bits, s0, s1, want)
		}
	}
	// Mismatched lengths are an error on both sides, not a panic.
	_, _, err := RunPair(Fixed{}, nil, nil, func(p *Party) error {
		_, err := p.Open(make([]uint64, 3+p.ID))
		return err
	})
	if err == nil || !strings.Contains(err.Error(), "peer message") {
		t.Fatalf("mismatched open: %v", err)
	}
	if _, err := (&Party{}).Open(nil); err == nil {
		t.Fatal("party without transport accepted")
	}
}

type fakeKey struct {
	Consumable
	kind string
	n    int
}

func (k *fakeKey) Kind() string { return k.kind }
func (k *fakeKey) Len() int     { return k.n }
func (k *fakeKey) Size() int    { return 0 }

type otherKey struct{ fakeKey }

func TestMaterial(t *testing.T) {
	a, b, c := &fakeKey{kind: "trunc", n: 4}, &fakeKey{kind: "mul", n: 2}, &otherKey{fakeKey{kind: "mul", n: 2}}
	m := NewMaterial(a, b)
	if m.Remaining() != 2 {
		t.Fatal("remaining")
	}
	if k, err := TakeAs[*fakeKey](m, "trunc", 4); err != nil || k != a {
		t.Fatalf("take: %v", err)
	}
	if _, err := m.Take("mul", 3); err == nil || !strings.Contains(err.Error(), "mul") {
		t.Fatalf("wrong length: %v", err)
	}
	if _, err := m.Take("mul", 2); err == nil || !strings.Contains(err.Error(), "exhausted") {
		t.Fatalf("exhaustion: %v", err)
	}
	m.Push(a) // reuse of a consumed key
	if _, err := m.Take("trunc", 4); err == nil || !strings.Contains(err.Error(), "already used") {
		t.Fatalf("reuse: %v", err)
	}
	m.Push(&fakeKey{kind: "mul", n: 1})
	if _, err := m.Take("trunc", 1); err == nil || !strings.Contains(err.Error(), `"mul"`) {
		t.Fatalf("wrong kind: %v", err)
	}
	m.Push(c)
	if _, err := TakeAs[*fakeKey](m, "mul", 2); err == nil || !strings.Contains(err.Error(), "type") {
		t.Fatalf("wrong type: %v", err)
	}
	var nilm *Material
	if _, err := nilm.Take("x", 1); err == nil {
		t.Fatal("nil material")
	}
}

// TestWithLinkSubMillisecond: simulated LAN rounds (0.5 ms RTT) last at
// least their one-way delay each, and are not rounded up to the timer's
// millisecond granularity (logged; the bound is asserted only from below,
// since a loaded machine may deschedule the waiter).
func TestWithLinkSubMillisecond(t *testing.T) {
	a, b := Pipe()
	const rtt, rounds = 500 * time.Microsecond, 100
	la, lb := WithLink(a, rtt, 0), WithLink(b, rtt, 0)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range rounds {
			lb.Exchange([]byte{2})
		}
	}()
	start := time.Now()
	for range rounds {
		if _, err := la.Exchange([]byte{1}); err != nil {
			t.Fatal(err)
		}
	}
	el := time.Since(start)
	<-done
	if el < rounds*rtt/2 {
		t.Fatalf("%d rounds took %v, less than %v", rounds, el, rounds*rtt/2)
	}
	t.Logf("%d rounds at %v RTT: %v (%.2f ms per round, 0.25 ms asked)", rounds, rtt, el, el.Seconds()*1e3/rounds)
}
