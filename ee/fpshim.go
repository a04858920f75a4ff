package ee

// TEMPORARY until model.Fingerprint lands: a local stand-in with the same
// signature. Remove this file and call model.Fingerprint directly then.

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"math"

	"github.com/hssee/hssee/model"
)

func modelFingerprint(m *model.Model) [32]byte {
	h := sha256.New()
	cfg, _ := json.Marshal(m.Config)
	h.Write(cfg)
	put := func(x []float32) {
		var b [4]byte
		binary.LittleEndian.PutUint32(b[:], uint32(len(x)))
		h.Write(b[:])
		for _, v := range x {
			binary.LittleEndian.PutUint32(b[:], math.Float32bits(v))
			h.Write(b[:])
		}
	}
	put(m.Embed)
	put(m.Pos)
	for _, l := range m.Layers {
		for _, x := range [][]float32{l.AttnNorm.W, l.AttnNorm.B, l.Wq.W, l.Wq.B, l.Wk.W, l.Wk.B, l.Wv.W, l.Wv.B, l.Wo.W, l.Wo.B,
			l.FFNNorm.W, l.FFNNorm.B, l.W1.W, l.W1.B, l.W2.W, l.W2.B, l.W3.W, l.W3.B} {
			put(x)
		}
	}
	put(m.FinalNorm.W)
	put(m.FinalNorm.B)
	put(m.LMHead)
	var out [32]byte
	h.Sum(out[:0])
	return out
}
