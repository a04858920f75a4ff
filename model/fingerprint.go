package model

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash"
	"math"
)

// fingerprintDomain separates model fingerprints from every other SHA-256
// use in the project; bump the version if the encoding below changes.
const fingerprintDomain = "hssee/model-fingerprint/v1"

// Fingerprint is a SHA-256 digest that identifies a model exactly: its
// config (as canonical JSON, i.e. json.Marshal of Config, whose field order
// is fixed) and every tensor's name, shape and float32 bit pattern in a fixed
// order (embed, pos, per layer attn_norm, wq, wk, wv, wo, ffn_norm, w1, w2,
// w3, then final_norm and lm_head). Each item is length-prefixed and absent
// tensors (nil) are distinguished from empty ones, so the encoding is
// injective. Two parties compare fingerprints to refuse mismatched models.
// It hashes whatever the model holds; it does not call Check.
func Fingerprint(m *Model) [32]byte {
	h := sha256.New()
	fp := fingerprinter{h: h, buf: make([]byte, 0, 1<<16)}
	fp.bytes([]byte(fingerprintDomain))
	cfg, err := json.Marshal(m.Config)
	if err != nil {
		// Config holds only ints, strings, bools and float32; NaN/Inf in a
		// float field is the one way to fail. Hash the raw bits instead.
		cfg = []byte(fmt.Sprintf("%#v", m.Config))
		fp.u64(uint64(math.Float32bits(m.Config.NormEps)))
		fp.u64(uint64(math.Float32bits(m.Config.RopeTheta)))
	}
	fp.bytes(cfg)
	fp.tensor("embed", m.Embed)
	fp.tensor("pos", m.Pos)
	fp.u64(uint64(len(m.Layers)))
	for _, l := range m.Layers {
		fp.norm("attn_norm", l.AttnNorm)
		fp.linear("wq", l.Wq)
		fp.linear("wk", l.Wk)
		fp.linear("wv", l.Wv)
		fp.linear("wo", l.Wo)
		fp.norm("ffn_norm", l.FFNNorm)
		fp.linear("w1", l.W1)
		fp.linear("w2", l.W2)
		fp.linear("w3", l.W3)
	}
	fp.norm("final_norm", m.FinalNorm)
	fp.tensor("lm_head", m.LMHead)
	fp.flush()
	var out [32]byte
	h.Sum(out[:0])
	return out
}

type fingerprinter struct {
	h   hash.Hash
	buf []byte
}

func (f *fingerprinter) flush() {
	f.h.Write(f.buf)
	f.buf = f.buf[:0]
}

func (f *fingerprinter) u64(v uint64) {
	if len(f.buf)+8 > cap(f.buf) {
		f.flush()
	}
	f.buf = binary.LittleEndian.AppendUint64(f.buf, v)
}

func (f *fingerprinter) bytes(b []byte) {
	f.u64(uint64(len(b)))
	f.flush()
	f.h.Write(b)
}

func (f *fingerprinter) tensor(name string, t []float32) {
	f.bytes([]byte(name))
	if t == nil {
		f.u64(0)
		return
	}
	f.u64(1)
	f.u64(uint64(len(t)))
	for _, v := range t {
		if len(f.buf)+4 > cap(f.buf) {
			f.flush()
		}
		f.buf = binary.LittleEndian.AppendUint32(f.buf, math.Float32bits(v))
	}
}

func (f *fingerprinter) linear(name string, l Linear) {
	f.u64(uint64(l.Out))
	f.u64(uint64(l.In))
	f.tensor(name+".weight", l.W)
	f.tensor(name+".bias", l.B)
}

func (f *fingerprinter) norm(name string, n Norm) {
	f.tensor(name+".weight", n.W)
	f.tensor(name+".bias", n.B)
}
