package ee

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/hssee/hssee/model"
)

// e2eTol are the acceptance bounds on decrypted logits.
func e2eTol(mode Mode) float64 {
	if mode == ModePerm {
		return 1e-4
	}
	return 1e-3
}

// decryptRows runs the float64 reference on the EE model for the encrypted
// prompt and decrypts every position's logits with k.
func decryptRows(t *testing.T, em *model.Model, k *Key, ids []int) [][]float64 {
	t.Helper()
	enc, err := k.EncryptIDs(ids)
	if err != nil {
		t.Fatal(err)
	}
	rows := refForward(em, enc)
	out := make([][]float64, len(rows))
	for i, r := range rows {
		dec, err := k.DecryptLogits(to32v(r))
		if err != nil {
			t.Fatal(err)
		}
		out[i] = vec64(dec)
	}
	return out
}

// TestEndToEndReference: DecryptLogits(F'(EncryptIDs(p))) ≈ F(p) at every
// position, with F and F' evaluated by the float64 reference.
func TestEndToEndReference(t *testing.T) {
	for i, tc := range eqCases() {
		t.Run(fmt.Sprintf("%s/%s", tc.mode, tc.name), func(t *testing.T) {
			r := rand.New(rand.NewPCG(uint64(i), 1234))
			m := tc.build(t, uint64(i)+500)
			k := testKey(t, tc.mode, byte(40+i))
			em, err := Transform(m, k)
			if err != nil {
				t.Fatal(err)
			}
			ids := randomIDs(r, tc.cfg.MaxSeqLen, tc.cfg.VocabSize)
			want := refForward(m, ids)
			got := decryptRows(t, em, k, ids)
			var worst float64
			for p := range want {
				worst = max(worst, maxAbsDiff(want[p], got[p]))
			}
			if worst > e2eTol(tc.mode) {
				t.Fatalf("max abs logit error %.3g > %.g", worst, e2eTol(tc.mode))
			}
			t.Logf("max abs logit error %.3g", worst)
		})
	}
}

func correlation(a, b []float64) float64 {
	var ma, mb float64
	for i := range a {
		ma += a[i]
		mb += b[i]
	}
	ma /= float64(len(a))
	mb /= float64(len(b))
	var sab, saa, sbb float64
	for i := range a {
		sab += (a[i] - ma) * (b[i] - mb)
		saa += (a[i] - ma) * (a[i] - ma)
		sbb += (b[i] - mb) * (b[i] - mb)
	}
	return sab / math.Sqrt(saa*sbb)
}

// TestWrongKey: running the EE model with another key's token map gives
// logits unrelated to the true ones, and a bound key refuses other models.
func TestWrongKey(t *testing.T) {
	for _, mode := range []Mode{ModePerm, ModeRotate} {
		// Untied: a random tied model mostly predicts its last input token,
		// which any consistent encrypt/decrypt pair would preserve.
		cfg := llamaConfig(model.RopeHalf, 4, 2, false)
		m := randomModel(t, cfg, 900)
		k, other := testKey(t, mode, 60), testKey(t, mode, 61)
		em, err := Transform(m, k)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Transform(m, other); err != nil { // binds other to m as well
			t.Fatal(err)
		}
		r := rand.New(rand.NewPCG(3, 3))
		var corrRight, corrWrong float64
		agree := 0
		const prompts = 8
		for range prompts {
			ids := randomIDs(r, 6, cfg.VocabSize)
			want := refForward(m, ids)[5]
			right := decryptRows(t, em, k, ids)[5]
			wrong := decryptRows(t, em, other, ids)[5]
			corrRight += correlation(want, right) / prompts
			corrWrong += correlation(want, wrong) / prompts
			if slices.Index(want, slices.Max(want)) == slices.Index(wrong, slices.Max(wrong)) {
				agree++
			}
		}
		t.Logf("%s: correlation with true logits: right key %.4f, wrong key %.3f; wrong-key argmax agreement %d/%d",
			mode, corrRight, corrWrong, agree, prompts)
		if corrRight < 0.999 {
			t.Errorf("%s: right key correlation %.3f", mode, corrRight)
		}
		if math.Abs(corrWrong) > 0.3 || agree > 2 {
			t.Errorf("%s: wrong key still agrees: correlation %.3f, argmax agreement %d/%d", mode, corrWrong, agree, prompts)
		}

		// A key bound to m refuses another model.
		m2 := randomModel(t, cfg, 901)
		if _, err := Transform(m2, k); err == nil || err.Error() != "ee: key was made for a different model" {
			t.Errorf("%s: Transform with a key bound to another model: %v", mode, err)
		}
		// A failed Transform does not bind a fresh key.
		fresh := testKey(t, mode, 62)
		bad := randomModel(t, cfg, 902)
		bad.Layers = bad.Layers[:1]
		if _, err := Transform(bad, fresh); err == nil {
			t.Error("Transform accepted an inconsistent model")
		}
		if _, bound := fresh.ModelFingerprint(); bound {
			t.Error("failed Transform bound the key")
		}
	}
	if _, err := Transform(nil, testKey(t, ModePerm, 1)); err == nil {
		t.Error("nil model accepted")
	}
}

// TestDeterministic: the same secret gives bit-identical EE weights; a
// different secret gives different ones; the base model is not modified.
func TestDeterministic(t *testing.T) {
	for _, cfg := range []model.Config{llamaConfig(model.RopeInterleaved, 4, 2, false), gpt2Config()} {
		m := randomModel(t, cfg, 77)
		before := model.Fingerprint(m)
		a, err := Transform(m, testKey(t, ModeRotate, 70))
		if err != nil {
			t.Fatal(err)
		}
		b, err := Transform(m, testKey(t, ModeRotate, 70))
		if err != nil {
			t.Fatal(err)
		}
		c, err := Transform(m, testKey(t, ModeRotate, 71))
		if err != nil {
			t.Fatal(err)
		}
		if model.Fingerprint(a) != model.Fingerprint(b) {
			t.Errorf("%s: same secret gave different EE models", cfg.Arch)
		}
		if model.Fingerprint(a) == model.Fingerprint(c) {
			t.Errorf("%s: different secrets gave the same EE model", cfg.Arch)
		}
		if model.Fingerprint(m) != before {
			t.Errorf("%s: Transform modified its input", cfg.Arch)
		}
	}
}

var update = flag.Bool("update", false, "rewrite testdata/components.kat")

// componentsDigest hashes every derived component: permutations exactly,
// real-valued components rounded to 2⁻²⁴ (robust to last-bit differences
// of libm or BLAS between platforms).
func componentsDigest(c *components, cfg model.Config) string {
	h := sha256.New()
	ints := func(p []int) {
		for _, v := range p {
			h.Write(binary.LittleEndian.AppendUint32(nil, uint32(v)))
		}
	}
	floats := func(x []float64) {
		for _, v := range x {
			h.Write(binary.LittleEndian.AppendUint64(nil, uint64(int64(math.Round(v*(1<<24))))))
		}
	}
	matrix := func(m *mat.Dense) {
		r, _ := m.Dims()
		for i := 0; i < r; i++ {
			floats(m.RawRowView(i))
		}
	}
	ints(c.vocab)
	switch res := c.resid.(type) {
	case permResidual:
		ints(res)
	case orthoResidual:
		matrix(res.q)
	}
	for _, l := range c.layers {
		ints(l.ffnPerm)
		floats(l.ffnScale)
		ints(l.kvPerm)
		for j := range l.qPerm {
			ints(l.qPerm[j])
			matrix(l.aq[j])
			matrix(l.ak[j])
			matrix(l.vMix[j])
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

// TestKnownAnswer pins the key derivation: a fixed secret must always derive
// the same components (testdata/components.kat; regenerate with -update
// only for a deliberate, versioned format change).
func TestKnownAnswer(t *testing.T) {
	var secret [SecretSize]byte
	for i := range secret {
		secret[i] = byte(i)
	}
	cases := []struct {
		name string
		cfg  model.Config
	}{
		{"llama-half-gqa", llamaConfig(model.RopeHalf, 4, 2, true)},
		{"llama-interleaved", llamaConfig(model.RopeInterleaved, 4, 4, false)},
		{"gpt2", gpt2Config()},
	}
	var lines []string
	for _, mode := range []Mode{ModePerm, ModeRotate} {
		k := &Key{mode: mode, secret: secret}
		for _, tc := range cases {
			c, err := deriveComponents(k, tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			lines = append(lines, fmt.Sprintf("%s/%s %s", mode, tc.name, componentsDigest(c, tc.cfg)))
		}
	}
	lines = append(lines, "key-id "+(&Key{mode: ModeRotate, secret: secret}).ID())
	got := strings.Join(lines, "\n") + "\n"
	path := filepath.Join("testdata", "components.kat")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Fatalf("derived components changed:\ngot:\n%swant:\n%s", got, want)
	}
}

// TestStreamSeparation: different labels or indices give different streams.
func TestStreamSeparation(t *testing.T) {
	var s [SecretSize]byte
	s[0] = 1
	seen := map[uint64]string{}
	for _, c := range []struct {
		label string
		idx   []int
	}{
		{labelFFNPerm, []int{0, 48}}, {labelFFNPerm, []int{1, 48}}, {labelFFNPerm, []int{0, 49}},
		{labelFFNScale, []int{0, 48}}, {labelFFNPerm, []int{0}}, {labelFFNPerm, []int{0, 48, 0}},
	} {
		v := newStream(&s, c.label, c.idx...).uint64()
		name := fmt.Sprint(c.label, c.idx)
		if prev, ok := seen[v]; ok {
			t.Fatalf("%s and %s share a stream", prev, name)
		}
		seen[v] = name
	}
}

// BenchmarkTransform measures Transform on stories15M-shaped random weights
// (run with -benchtime=1x; it allocates a few hundred MiB).
func BenchmarkTransform(b *testing.B) {
	cfg := model.Config{Arch: model.ArchLlama, Dim: 288, HiddenDim: 768, NLayers: 6, NHeads: 6, NKVHeads: 6,
		VocabSize: 32000, MaxSeqLen: 256, NormEps: 1e-5, RopeTheta: 10000, RopeStyle: model.RopeInterleaved,
		TiedEmbed: true, BOS: 1, EOS: 2}
	m := randomModel(b, cfg, 1)
	for _, mode := range []Mode{ModePerm, ModeRotate} {
		b.Run(string(mode), func(b *testing.B) {
			for b.Loop() {
				if _, err := Transform(m, testKey(b, mode, 1)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
