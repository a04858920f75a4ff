package llama2c

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hssee/hssee/internal/sharedtest"
	"github.com/hssee/hssee/model"
	"github.com/hssee/hssee/model/hf"
)

func randomModel(kv int, tied bool, style model.RopeStyle, seed uint64) *model.Model {
	r := rand.New(rand.NewPCG(seed, 3))
	c := model.Config{Arch: model.ArchLlama, Dim: 16, HiddenDim: 20, NLayers: 3, NHeads: 4, NKVHeads: kv,
		VocabSize: 13, MaxSeqLen: 7, NormEps: NormEps, RopeTheta: RopeTheta, RopeStyle: style,
		TiedEmbed: tied, BOS: BOS, EOS: EOS}
	vec := func(n int) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(r.NormFloat64())
		}
		return v
	}
	lin := func(out, in int) model.Linear { return model.Linear{W: vec(out * in), Out: out, In: in} }
	m := &model.Model{Config: c, Embed: vec(c.VocabSize * c.Dim), FinalNorm: model.Norm{W: vec(c.Dim)}}
	m.LMHead = m.Embed
	if !tied {
		m.LMHead = vec(c.VocabSize * c.Dim)
	}
	for range c.NLayers {
		m.Layers = append(m.Layers, model.Layer{
			AttnNorm: model.Norm{W: vec(c.Dim)}, FFNNorm: model.Norm{W: vec(c.Dim)},
			Wq: lin(c.Dim, c.Dim), Wk: lin(c.KVDim(), c.Dim), Wv: lin(c.KVDim(), c.Dim), Wo: lin(c.Dim, c.Dim),
			W1: lin(c.HiddenDim, c.Dim), W2: lin(c.Dim, c.HiddenDim), W3: lin(c.HiddenDim, c.Dim)})
	}
	if err := m.Check(); err != nil {
		panic(err)
	}
	return m
}

func encode(t testing.TB, m *model.Model) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := Write(&buf, m); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestRoundTrip(t *testing.T) {
	for _, c := range []struct {
		name string
		kv   int
		tied bool
	}{{"mha tied", 4, true}, {"gqa untied", 2, false}, {"mqa tied", 1, true}} {
		t.Run(c.name, func(t *testing.T) {
			m := randomModel(c.kv, c.tied, model.RopeInterleaved, 1)
			b := encode(t, m)
			size, err := FileSize(m.Config, c.tied)
			if err != nil || size != int64(len(b)) {
				t.Fatalf("FileSize = %d, %v; wrote %d", size, err, len(b))
			}
			if vocab := int32(binary.LittleEndian.Uint32(b[20:])); (vocab > 0) != c.tied {
				t.Errorf("stored vocab_size %d for tied=%v", vocab, c.tied)
			}
			got, err := Read(bytes.NewReader(b), int64(len(b)))
			if err != nil {
				t.Fatal(err)
			}
			if model.Fingerprint(got) != model.Fingerprint(m) {
				t.Error("model changed across Write/Read")
			}
			if aliased := &got.Embed[0] == &got.LMHead[0]; aliased != c.tied {
				t.Errorf("LMHead aliases Embed = %v, want %v", aliased, c.tied)
			}
			path := filepath.Join(t.TempDir(), "m.bin")
			os.WriteFile(path, b, 0o644)
			got, err = Load(path)
			if err != nil || model.Fingerprint(got) != model.Fingerprint(m) {
				t.Errorf("Load: %v", err)
			}
		})
	}
}

// Values are laid out in run.c's order: each float's value is its index.
func TestLayout(t *testing.T) {
	const D, H, L, NH, KVH, V, S = 4, 6, 2, 2, 1, 5, 3
	hd, kv := D/NH, D/NH*KVH
	hdr := []int32{D, H, L, NH, KVH, -V, S}
	n := V*D + L*D + L*D*D + 2*L*kv*D + L*D*D + L*D + 3*L*H*D + D + S*hd + V*D
	var b []byte
	for _, v := range hdr {
		b = binary.LittleEndian.AppendUint32(b, uint32(v))
	}
	for i := range n {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(float32(i)))
	}
	m, err := Read(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	off := 0
	check := func(name string, got []float32, count int) {
		t.Helper()
		if len(got) != count || got[0] != float32(off) || got[count-1] != float32(off+count-1) {
			t.Errorf("%s: starts at %v, want %d", name, got[0], off)
		}
		off += count
	}
	check("embed", m.Embed, V*D)
	for _, f := range []struct {
		name string
		get  func(l model.Layer) []float32
		n    int
	}{
		{"rms_att", func(l model.Layer) []float32 { return l.AttnNorm.W }, D},
		{"wq", func(l model.Layer) []float32 { return l.Wq.W }, D * D},
		{"wk", func(l model.Layer) []float32 { return l.Wk.W }, kv * D},
		{"wv", func(l model.Layer) []float32 { return l.Wv.W }, kv * D},
		{"wo", func(l model.Layer) []float32 { return l.Wo.W }, D * D},
		{"rms_ffn", func(l model.Layer) []float32 { return l.FFNNorm.W }, D},
		{"w1", func(l model.Layer) []float32 { return l.W1.W }, H * D},
		{"w2", func(l model.Layer) []float32 { return l.W2.W }, D * H},
		{"w3", func(l model.Layer) []float32 { return l.W3.W }, H * D},
	} {
		for i := range L {
			check(f.name, f.get(m.Layers[i]), f.n)
		}
	}
	check("rms_final", m.FinalNorm.W, D)
	off += S * hd // freq_cis
	check("wcls", m.LMHead, V*D)
	c := m.Config
	if c.TiedEmbed || c.RopeStyle != model.RopeInterleaved || c.NormEps != 1e-5 || c.RopeTheta != 10000 ||
		c.BOS != 1 || c.EOS != 2 || c.MaxSeqLen != S || c.NKVHeads != KVH || c.HiddenDim != H {
		t.Errorf("config %+v", c)
	}
	if m.Layers[1].W2.Out != D || m.Layers[1].W2.In != H || m.Layers[0].Wk.Out != kv {
		t.Error("linear shapes")
	}
}

func header(v ...int32) []byte {
	var b []byte
	for _, x := range v {
		b = binary.LittleEndian.AppendUint32(b, uint32(x))
	}
	return b
}

func TestHeaderErrors(t *testing.T) {
	valid := encode(t, randomModel(2, true, model.RopeInterleaved, 2))
	for _, c := range []struct {
		name string
		b    []byte
		want string
	}{
		{"short", []byte{1, 2, 3}, "header"},
		{"zero dim", header(0, 4, 1, 1, 1, 10, 4), "dim = 0"},
		{"negative layers", header(8, 4, -1, 1, 1, 10, 4), "n_layers"},
		{"heads not dividing", header(8, 4, 1, 3, 1, 10, 4), "divisible"},
		{"kv not dividing", header(8, 4, 1, 4, 3, 10, 4), "divisible"},
		{"odd head dim", header(6, 4, 1, 2, 2, 10, 4), "even"},
		{"min int vocab", header(8, 4, 1, 2, 2, math.MinInt32, 4), "vocab_size"},
		{"tiny vocab", header(8, 4, 1, 2, 2, 2, 4), "BOS/EOS"},
		{"huge", header(1<<22, 1<<22, 1<<22, 2, 2, 1<<22, 1<<22), "overflows"},
		{"truncated", valid[:len(valid)-4], "header implies"},
		{"extra", append(slices.Clone(valid), 0, 0, 0, 0), "header implies"},
		{"header only", header(8, 4, 1, 2, 2, 10, 4), "header implies"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Read(bytes.NewReader(c.b), int64(len(c.b)))
			if err == nil || !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Read: %v, want ErrFormat containing %q", err, c.want)
			}
		})
	}
	// A size that lies about a short reader fails on read, not with a panic.
	if _, err := Read(bytes.NewReader(valid[:100]), int64(len(valid))); err == nil {
		t.Error("short reader accepted")
	}
}

func TestWriteErrors(t *testing.T) {
	m := randomModel(4, true, model.RopeInterleaved, 3)
	m.Config.RopeTheta = 500000
	if err := Write(new(bytes.Buffer), m); err == nil || !strings.Contains(err.Error(), "theta") {
		t.Errorf("theta: %v", err)
	}
	m = randomModel(4, true, model.RopeInterleaved, 3)
	m.Layers[1].Wq.B = make([]float32, m.Config.Dim)
	if err := Write(new(bytes.Buffer), m); err == nil || !strings.Contains(err.Error(), "biases") {
		t.Errorf("bias: %v", err)
	}
	m = randomModel(4, true, model.RopeInterleaved, 3)
	m.LMHead = slices.Clone(m.Embed)
	m.LMHead[3] = 0
	if err := Write(new(bytes.Buffer), m); err == nil || !strings.Contains(err.Error(), "TiedEmbed") {
		t.Errorf("tied mismatch: %v", err)
	}
	m = randomModel(4, true, model.RopeInterleaved, 3)
	m.Config.Arch = model.ArchGPT2
	if err := Write(new(bytes.Buffer), m); err == nil {
		t.Error("gpt2 config written")
	}
	if err := Write(new(bytes.Buffer), nil); err == nil {
		t.Error("nil model written")
	}
}

// The real HF model converts to llama2.c (interleaved q/k rows) and back to
// HF (half rows) without changing a bit, other than the settings llama2.c
// cannot store.
func TestTinyStoriesConversion(t *testing.T) {
	orig, err := hf.Load(sharedtest.TinyStories(t))
	if err != nil {
		t.Fatal(err)
	}
	b := encode(t, orig)
	conv, err := Read(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	if conv.Config.RopeStyle != model.RopeInterleaved || !conv.Config.TiedEmbed {
		t.Fatalf("config %+v", conv.Config)
	}
	hd := orig.Config.HeadDim()
	// Interleaved row 2i+j of each head is HF row j*hd/2+i.
	q0, q1 := orig.Layers[0].Wq, conv.Layers[0].Wq
	D := orig.Config.Dim
	for h := range orig.Config.NHeads {
		for i := range hd / 2 {
			for j := range 2 {
				src := (h*hd + j*hd/2 + i) * D
				dst := (h*hd + 2*i + j) * D
				if !slices.Equal(q1.W[dst:dst+D], q0.W[src:src+D]) {
					t.Fatalf("q head %d row %d/%d not permuted as expected", h, i, j)
				}
			}
		}
	}
	dir := t.TempDir()
	if err := hf.Save(dir, conv); err != nil {
		t.Fatal(err)
	}
	back, err := hf.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	back.Config.NormEps = orig.Config.NormEps // not stored by llama2.c
	if model.Fingerprint(back) != model.Fingerprint(orig) {
		t.Error("HF -> llama2.c -> HF changed the model")
	}
}

func FuzzHeader(f *testing.F) {
	f.Add(encode(f, randomModel(2, true, model.RopeInterleaved, 4)))
	f.Add(encode(f, randomModel(1, false, model.RopeHalf, 5)))
	f.Add(header(8, 4, 1, 2, 2, 10, 4))
	f.Add(header(8, 4, 1, 2, 2, -10, 4))
	f.Add(header(1<<22, 1<<22, 1<<22, 2, 2, 1<<22, 1<<22))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Read(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			if !strings.HasPrefix(err.Error(), "llama2c: ") {
				t.Fatalf("error %q lacks the package prefix", err)
			}
			return
		}
		// Whatever decodes re-encodes to the same model.
		var buf bytes.Buffer
		if err := Write(&buf, m); err != nil {
			t.Fatalf("decoded model does not encode: %v", err)
		}
		m2, err := Read(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
		if err != nil {
			t.Fatal(err)
		}
		if model.Fingerprint(m2) != model.Fingerprint(m) {
			t.Fatal("re-encoding changed the model")
		}
		if !bytes.Equal(buf.Bytes()[:HeaderSize], b[:HeaderSize]) {
			t.Fatal("re-encoding changed the header")
		}
	})
}

func TestHalfModelWritesInterleaved(t *testing.T) {
	m := randomModel(2, false, model.RopeHalf, 6)
	b := encode(t, m)
	got, err := Read(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	c := m.Config
	hd := c.HeadDim()
	for li := range m.Layers {
		for _, p := range []struct {
			half, inter model.Linear
			heads       int
		}{{m.Layers[li].Wq, got.Layers[li].Wq, c.NHeads}, {m.Layers[li].Wk, got.Layers[li].Wk, c.NKVHeads}} {
			for h := range p.heads {
				for i := range hd / 2 {
					for j := range 2 {
						src := (h*hd + j*hd/2 + i) * c.Dim
						dst := (h*hd + 2*i + j) * c.Dim
						if !slices.Equal(p.inter.W[dst:dst+c.Dim], p.half.W[src:src+c.Dim]) {
							t.Fatalf("layer %d head %d: row %d/%d misplaced", li, h, i, j)
						}
					}
				}
			}
		}
		if !slices.Equal(m.Layers[li].Wv.W, got.Layers[li].Wv.W) || !slices.Equal(m.Layers[li].W3.W, got.Layers[li].W3.W) {
			t.Fatal("non-RoPE weights changed")
		}
	}
	if got.Config.RopeStyle != model.RopeInterleaved {
		t.Errorf("style %q", got.Config.RopeStyle)
	}
}
