package llama2c

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"os"
	"slices"

	"github.com/hssee/hssee/model"
)

// HeaderSize is the byte length of the header.
const HeaderSize = 7 * 4

// Fixed hyper-parameters of the format (run.c).
const (
	NormEps   = 1e-5
	RopeTheta = 10000
	BOS       = 1
	EOS       = 2
)

// ErrFormat is wrapped by every error about malformed checkpoint bytes.
var ErrFormat = errors.New("llama2c: malformed checkpoint")

// Load reads a llama2.c checkpoint file.
func Load(path string) (*model.Model, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("llama2c: open: %w", err)
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		return nil, fmt.Errorf("llama2c: open: %w", err)
	}
	return Read(bufio.NewReaderSize(fh, 1<<16), st.Size())
}

// ParseHeader decodes and validates a header. shared reports whether the
// classifier is tied to the embedding table. The returned config has the
// format's fixed hyper-parameters filled in.
func ParseHeader(b []byte) (c model.Config, shared bool, err error) {
	if len(b) < HeaderSize {
		return c, false, fmt.Errorf("%w: header: %d bytes, want %d", ErrFormat, len(b), HeaderSize)
	}
	var h [7]int32
	for i := range h {
		h[i] = int32(binary.LittleEndian.Uint32(b[4*i:]))
	}
	vocab := h[5]
	shared = vocab > 0
	if vocab == math.MinInt32 {
		return c, false, fmt.Errorf("%w: header: vocab_size out of range", ErrFormat)
	}
	if vocab < 0 {
		vocab = -vocab
	}
	c = model.Config{Arch: model.ArchLlama, Dim: int(h[0]), HiddenDim: int(h[1]), NLayers: int(h[2]),
		NHeads: int(h[3]), NKVHeads: int(h[4]), VocabSize: int(vocab), MaxSeqLen: int(h[6]),
		NormEps: NormEps, RopeTheta: RopeTheta, RopeStyle: model.RopeInterleaved, TiedEmbed: shared,
		BOS: BOS, EOS: EOS}
	if err := c.Validate(); err != nil {
		return c, false, fmt.Errorf("%w: header: %w", ErrFormat, err)
	}
	if c.VocabSize <= EOS {
		return c, false, fmt.Errorf("%w: header: vocab_size %d leaves no room for BOS/EOS", ErrFormat, c.VocabSize)
	}
	return c, shared, nil
}

// FileSize is the exact byte size of a checkpoint for the config, or an
// error if it overflows int64.
func FileSize(c model.Config, shared bool) (int64, error) {
	hd := uint64(c.HeadDim())
	D, H, L, V, S, KV := uint64(c.Dim), uint64(c.HiddenDim), uint64(c.NLayers), uint64(c.VocabSize),
		uint64(c.MaxSeqLen), uint64(c.KVDim())
	var total uint64 = HeaderSize / 4
	overflow := false
	add := func(fs ...uint64) {
		p := uint64(1)
		for _, f := range fs {
			hi, lo := bits.Mul64(p, f)
			if hi != 0 {
				overflow = true
			}
			p = lo
		}
		var carry uint64
		total, carry = bits.Add64(total, p, 0)
		if carry != 0 {
			overflow = true
		}
	}
	add(V, D)       // token embedding
	add(L, D)       // rms_att
	add(L, D, D)    // wq
	add(L, KV, D)   // wk
	add(L, KV, D)   // wv
	add(L, D, D)    // wo
	add(L, D)       // rms_ffn
	add(L, H, D)    // w1
	add(L, D, H)    // w2
	add(L, H, D)    // w3
	add(D)          // rms_final
	add(2, S, hd/2) // freq_cis real, imag
	if !shared {
		add(V, D) // wcls
	}
	if overflow || total > math.MaxInt64/4 {
		return 0, fmt.Errorf("%w: header: implied size overflows", ErrFormat)
	}
	return int64(total * 4), nil
}

// Read decodes a checkpoint of exactly size bytes from r.
func Read(r io.Reader, size int64) (*model.Model, error) {
	var hb [HeaderSize]byte
	if _, err := io.ReadFull(r, hb[:]); err != nil {
		return nil, fmt.Errorf("%w: header: %w", ErrFormat, err)
	}
	c, shared, err := ParseHeader(hb[:])
	if err != nil {
		return nil, err
	}
	want, err := FileSize(c, shared)
	if err != nil {
		return nil, err
	}
	if size != want {
		return nil, fmt.Errorf("%w: file has %d bytes, header implies %d", ErrFormat, size, want)
	}
	fr := &floatReader{r: r, buf: make([]byte, 1<<16)}
	D, H, KV := c.Dim, c.HiddenDim, c.KVDim()
	m := &model.Model{Config: c, Layers: make([]model.Layer, c.NLayers)}
	m.Embed = fr.next(c.VocabSize * D)
	perLayer := func(set func(l *model.Layer, v []float32), n int) {
		for i := range m.Layers {
			set(&m.Layers[i], fr.next(n))
		}
	}
	lin := func(out, in int) func(v []float32) model.Linear {
		return func(v []float32) model.Linear { return model.Linear{W: v, Out: out, In: in} }
	}
	perLayer(func(l *model.Layer, v []float32) { l.AttnNorm.W = v }, D)
	perLayer(func(l *model.Layer, v []float32) { l.Wq = lin(D, D)(v) }, D*D)
	perLayer(func(l *model.Layer, v []float32) { l.Wk = lin(KV, D)(v) }, KV*D)
	perLayer(func(l *model.Layer, v []float32) { l.Wv = lin(KV, D)(v) }, KV*D)
	perLayer(func(l *model.Layer, v []float32) { l.Wo = lin(D, D)(v) }, D*D)
	perLayer(func(l *model.Layer, v []float32) { l.FFNNorm.W = v }, D)
	perLayer(func(l *model.Layer, v []float32) { l.W1 = lin(H, D)(v) }, H*D)
	perLayer(func(l *model.Layer, v []float32) { l.W2 = lin(D, H)(v) }, D*H)
	perLayer(func(l *model.Layer, v []float32) { l.W3 = lin(H, D)(v) }, H*D)
	m.FinalNorm.W = fr.next(D)
	fr.skip(int64(2*c.MaxSeqLen*(c.HeadDim()/2)) * 4)
	if shared {
		m.LMHead = m.Embed
	} else {
		m.LMHead = fr.next(c.VocabSize * D)
	}
	if fr.err != nil {
		return nil, fmt.Errorf("%w: %w", ErrFormat, fr.err)
	}
	if err := m.Check(); err != nil {
		return nil, fmt.Errorf("llama2c: %w", err)
	}
	return m, nil
}

// floatReader reads little-endian float32 runs, remembering the first error.
type floatReader struct {
	r   io.Reader
	buf []byte
	err error
}

func (f *floatReader) next(n int) []float32 {
	if f.err != nil {
		return nil
	}
	out := make([]float32, n)
	for done := 0; done < n; {
		k := min(len(f.buf)/4, n-done)
		b := f.buf[:4*k]
		if _, err := io.ReadFull(f.r, b); err != nil {
			f.err = fmt.Errorf("tensor data: %w", err)
			return nil
		}
		for i := range k {
			out[done+i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		}
		done += k
	}
	return out
}

func (f *floatReader) skip(n int64) {
	if f.err != nil {
		return
	}
	if _, err := io.CopyN(io.Discard, f.r, n); err != nil {
		f.err = fmt.Errorf("freq_cis: %w", err)
	}
}

// Write encodes a LLaMA model in the legacy llama2.c format; see the
// package comment for what it cannot represent. It never modifies m.
func Write(w io.Writer, m *model.Model) error {
	if m == nil {
		return errors.New("llama2c: write: nil model")
	}
	if err := m.Check(); err != nil {
		return fmt.Errorf("llama2c: write: %w", err)
	}
	c := m.Config
	if c.Arch != model.ArchLlama {
		return fmt.Errorf("llama2c: write: architecture %q is not llama", c.Arch)
	}
	if c.RopeTheta != RopeTheta {
		return fmt.Errorf("llama2c: write: rope theta %v cannot be stored (format fixes %v)", c.RopeTheta, RopeTheta)
	}
	for i, l := range m.Layers {
		for _, b := range [][]float32{l.Wq.B, l.Wk.B, l.Wv.B, l.Wo.B, l.W1.B, l.W2.B, l.W3.B} {
			if b != nil {
				return fmt.Errorf("llama2c: write: layer %d has biases, which the format cannot store", i)
			}
		}
	}
	if c.TiedEmbed && !sameTable(m.Embed, m.LMHead) {
		return errors.New("llama2c: write: TiedEmbed is set but LMHead differs from Embed")
	}
	vocab := int32(c.VocabSize)
	if !c.TiedEmbed {
		vocab = -vocab
	}
	bw := bufio.NewWriterSize(w, 1<<16)
	for _, v := range []int32{int32(c.Dim), int32(c.HiddenDim), int32(c.NLayers), int32(c.NHeads),
		int32(c.NKVHeads), vocab, int32(c.MaxSeqLen)} {
		binary.Write(bw, binary.LittleEndian, v)
	}
	var eb [4]byte
	put := func(v []float32) {
		for _, x := range v {
			binary.LittleEndian.PutUint32(eb[:], math.Float32bits(x))
			bw.Write(eb[:])
		}
	}
	hd := c.HeadDim()
	qk := func(l model.Linear, heads int) []float32 {
		if c.RopeStyle == model.RopeHalf {
			return model.RopeRows(l.W, heads, hd, l.In, false)
		}
		return l.W
	}
	put(m.Embed)
	for _, get := range []func(l model.Layer) []float32{
		func(l model.Layer) []float32 { return l.AttnNorm.W },
		func(l model.Layer) []float32 { return qk(l.Wq, c.NHeads) },
		func(l model.Layer) []float32 { return qk(l.Wk, c.NKVHeads) },
		func(l model.Layer) []float32 { return l.Wv.W },
		func(l model.Layer) []float32 { return l.Wo.W },
		func(l model.Layer) []float32 { return l.FFNNorm.W },
		func(l model.Layer) []float32 { return l.W1.W },
		func(l model.Layer) []float32 { return l.W2.W },
		func(l model.Layer) []float32 { return l.W3.W },
	} {
		for _, l := range m.Layers {
			put(get(l))
		}
	}
	put(m.FinalNorm.W)
	// freq_cis as legacy export wrote it: cos and sin of pos * theta^(-2i/hd).
	re := make([]float32, 0, c.MaxSeqLen*hd/2)
	im := make([]float32, 0, c.MaxSeqLen*hd/2)
	for pos := range c.MaxSeqLen {
		for i := range hd / 2 {
			f := float64(pos) / math.Pow(RopeTheta, float64(2*i)/float64(hd))
			re = append(re, float32(math.Cos(f)))
			im = append(im, float32(math.Sin(f)))
		}
	}
	put(re)
	put(im)
	if !c.TiedEmbed {
		put(m.LMHead)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("llama2c: write: %w", err)
	}
	return nil
}

// sameTable reports whether a and b alias or hold equal values.
func sameTable(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	return len(a) == 0 || &a[0] == &b[0] || slices.Equal(a, b)
}
