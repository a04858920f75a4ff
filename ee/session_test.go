package ee

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/hssee/hssee/internal/sharedtest"
	"github.com/hssee/hssee/model"
	"github.com/hssee/hssee/model/hf"
)

func testSession(t testing.TB, k *Key, seed byte) *Session {
	t.Helper()
	s, err := NewSession(k, bytes.NewReader(bytes.Repeat([]byte{seed, 0x5e}, 16)))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestSessionExact checks decrypt(F'_s(encrypt_s(p))) = F'(encrypt(p)) decrypted, bit for bit, in both
// modes and for tied and untied heads, and that it is F(p) up to EE's float error.
func TestSessionExact(t *testing.T) {
	for _, tc := range []struct {
		cfg  model.Config
		mode Mode
	}{
		{llamaConfig(model.RopeHalf, 4, 2, true), ModePerm},
		{llamaConfig(model.RopeHalf, 4, 2, true), ModeRotate},
		{llamaConfig(model.RopeInterleaved, 4, 4, false), ModePerm},
		{gpt2Config(), ModeRotate},
	} {
		t.Run(fmt.Sprintf("%s/%s/tied=%v", tc.cfg.Arch, tc.mode, tc.cfg.TiedEmbed), func(t *testing.T) {
			base := randomModel(t, tc.cfg, 3)
			k := testKey(t, tc.mode, 9)
			em, err := Transform(base, k)
			if err != nil {
				t.Fatal(err)
			}
			s := testSession(t, k, 1)
			sm, err := s.Model(em)
			if err != nil {
				t.Fatal(err)
			}
			if sm.Config.TiedEmbed != em.Config.TiedEmbed || (sm.Config.TiedEmbed && &sm.LMHead[0] != &sm.Embed[0]) {
				t.Fatal("session model changed head tying")
			}
			if &sm.Layers[0].Wq.W[0] != &em.Layers[0].Wq.W[0] {
				t.Fatal("session model copied layer weights")
			}
			if sm.Embed[0] == em.Embed[0] && &sm.Embed[0] == &em.Embed[0] {
				t.Fatal("session model shares the embedding")
			}
			// Exactness of the weights: row j of the long-term EE tables is row σ(j) of the session's, bit for bit.
			d := tc.cfg.Dim
			for j, dst := range s.sigma {
				for c := 0; c < d; c++ {
					if math.Float32bits(sm.Embed[dst*d+c]) != math.Float32bits(em.Embed[j*d+c]) ||
						math.Float32bits(sm.LMHead[dst*d+c]) != math.Float32bits(em.LMHead[j*d+c]) {
						t.Fatalf("row %d not moved exactly", j)
					}
				}
			}
			ids := randomIDs(rand.New(rand.NewPCG(5, 5)), 12, tc.cfg.VocabSize)
			encS, err := s.EncryptIDs(ids)
			if err != nil {
				t.Fatal(err)
			}
			encK, _ := k.EncryptIDs(ids)
			if same := countEqual(encS, encK); same == len(ids) {
				t.Fatal("session ids equal the long-term key's")
			}
			back, _ := s.DecryptIDs(encS)
			if countEqual(back, ids) != len(ids) {
				t.Fatal("session DecryptIDs does not invert EncryptIDs")
			}
			gotRows, wantRows, plainRows := runAll(t, sm, encS), runAll(t, em, encK), runAll(t, base, ids)
			for p := range ids {
				got, err := s.DecryptLogits(gotRows[p])
				if err != nil {
					t.Fatal(err)
				}
				want, _ := k.DecryptLogits(wantRows[p])
				for v := range got {
					// The weights are the same rows, moved; only the engine's summation order may differ.
					if d := math.Abs(float64(got[v] - want[v])); d > 1e-5 {
						t.Fatalf("pos %d token %d: session logit %v, long-term key %v", p, v, got[v], want[v])
					}
					if d := math.Abs(float64(got[v] - plainRows[p][v])); d > plainTol[tc.mode] {
						t.Fatalf("pos %d token %d: |session - plain| = %g", p, v, d)
					}
				}
			}
			// Several rows at once, like Key.DecryptLogits.
			two := append(append([]float32(nil), gotRows[0]...), gotRows[1]...)
			dec, err := s.DecryptLogits(two)
			if err != nil || len(dec) != 2*tc.cfg.VocabSize {
				t.Fatalf("two rows: %v", err)
			}
		})
	}
}

var plainTol = map[Mode]float64{ModePerm: 1e-4, ModeRotate: 1e-3}

func countEqual(a, b []int) int {
	n := 0
	for i := range a {
		if a[i] == b[i] {
			n++
		}
	}
	return n
}

// TestSessionsIndependent checks that sessions drawn from different randomness use different permutations
// (a fixed reader gives the same one), and the cost figure.
func TestSessionsIndependent(t *testing.T) {
	cfg := llamaConfig(model.RopeHalf, 4, 2, false)
	k := testKey(t, ModePerm, 4)
	if _, err := NewSession(k, bytes.NewReader(make([]byte, 32))); err == nil {
		t.Fatal("unbound key accepted")
	}
	if _, err := Transform(randomModel(t, cfg, 1), k); err != nil {
		t.Fatal(err)
	}
	a, b, a2 := testSession(t, k, 1), testSession(t, k, 2), testSession(t, k, 1)
	all := make([]int, cfg.VocabSize)
	for i := range all {
		all[i] = i
	}
	ea, _ := a.EncryptIDs(all)
	eb, _ := b.EncryptIDs(all)
	ea2, _ := a2.EncryptIDs(all)
	if countEqual(ea, ea2) != len(all) {
		t.Fatal("same session randomness, different permutation")
	}
	if countEqual(ea, eb) > 5 {
		t.Fatalf("two sessions agree on %d of %d ids", countEqual(ea, eb), len(all))
	}
	if _, err := NewSession(k, bytes.NewReader(make([]byte, 32))); err == nil {
		t.Fatal("all-zero session randomness accepted")
	}
	if _, err := a.EncryptIDs([]int{cfg.VocabSize}); err == nil || strings.Contains(err.Error(), fmt.Sprint(cfg.VocabSize)+" ") {
		t.Fatalf("out-of-range id: %v", err)
	}
	if _, err := a.DecryptLogits(make([]float32, cfg.VocabSize+1)); err == nil {
		t.Fatal("bad logits length accepted")
	}
	other := randomModel(t, llamaConfig(model.RopeHalf, 4, 2, false), 2)
	other.Config.VocabSize = 60
	if _, err := a.Model(other); err == nil {
		t.Fatal("model of another vocabulary accepted")
	}
	if got, want := SessionFloats(cfg), int64(2*cfg.VocabSize*cfg.Dim); got != want {
		t.Fatalf("SessionFloats = %d, want %d", got, want)
	}
	cfg.TiedEmbed = true
	if got, want := SessionFloats(cfg), int64(cfg.VocabSize*cfg.Dim); got != want {
		t.Fatalf("tied SessionFloats = %d, want %d", got, want)
	}
	for _, s := range []string{a.String(), fmt.Sprintf("%v %+v %#v %s %q %x", a, a, a, a, a, a)} {
		if strings.Contains(s, fmt.Sprintf("%x", a.secret[:4])) || !strings.Contains(s, k.ID()) {
			t.Fatalf("session prints %q", s)
		}
	}
}

// TestPublicBaseWarning checks the warning for a key bound to the real TinyStories model (public weights)
// and its absence for a private (random) base and an unbound key.
func TestPublicBaseWarning(t *testing.T) {
	k := testKey(t, ModeRotate, 6)
	if w := PublicBaseWarning(k); w != "" {
		t.Fatalf("unbound key: %q", w)
	}
	if _, err := Transform(randomModel(t, llamaConfig(model.RopeHalf, 4, 2, true), 8), k); err != nil {
		t.Fatal(err)
	}
	if w := PublicBaseWarning(k); w != "" {
		t.Fatalf("private base: %q", w)
	}
	fp, _ := k.ModelFingerprint()
	RegisterPublicBase(fp, "test-public")
	w := PublicBaseWarning(k)
	if !strings.Contains(w, "test-public") || !strings.Contains(w, "hss") || strings.Contains(w, "\n") {
		t.Fatalf("registered public base: %q", w)
	}
	publicMu.Lock()
	delete(publicBases, fp)
	publicMu.Unlock()

	m, err := hf.Load(sharedtest.TinyStories(t))
	if err != nil {
		t.Fatal(err)
	}
	k2 := testKey(t, ModePerm, 7)
	if _, err := Transform(m, k2); err != nil {
		t.Fatal(err)
	}
	if name, ok := PublicBase(k2); !ok || !strings.Contains(name, "TinyStories") {
		t.Fatalf("tinystories-656k not recognised as public: %q %v", name, ok)
	}
}
