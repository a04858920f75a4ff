package infer_test

import (
	"bytes"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/hssee/hssee/ee"
	"github.com/hssee/hssee/infer"
	"github.com/hssee/hssee/internal/evalset"
	"github.com/hssee/hssee/internal/sharedtest"
	"github.com/hssee/hssee/model"
	"github.com/hssee/hssee/model/hf"
	"github.com/hssee/hssee/model/tokenizer"
)

// byteTok is the byte-level tokenizer: id = byte + 3, BOS 1, EOS 2.
type byteTok = tokenizer.Bytes

func tinyModel(t *testing.T) *model.Model {
	t.Helper()
	c, err := model.PresetConfig("tinystories-656k")
	if err != nil {
		t.Fatal(err)
	}
	c.VocabSize = 259
	m, err := model.RandomModel(c, 7)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func newKey(t *testing.T, mode ee.Mode, seed byte) *ee.Key {
	t.Helper()
	k, err := ee.GenerateKey(bytes.NewReader(bytes.Repeat([]byte{seed}, ee.SecretSize)), mode)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func runner(t *testing.T, m *model.Model, maxSeq int) *model.Runner {
	t.Helper()
	r, err := model.NewRunnerThreads(m, maxSeq, 2)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	return r
}

// spy records what the engine is given.
type spy struct {
	*model.Runner
	seen []int
}

func (s *spy) Forward(ids []int) ([]float32, error) {
	s.seen = append(s.seen, ids...)
	return s.Runner.Forward(ids)
}

// TestGenerateEEMatchesPlain: on a random model, sampled generation with
// temperature and top-p gives the same ids plain and through EE (both
// modes), the engine under EE only sees encrypted ids, and the streamed text
// equals Text.
func TestGenerateEEMatchesPlain(t *testing.T) {
	m := tinyModel(t)
	req := infer.Request{Prompt: "Once upon", N: 24, IgnoreEOS: true,
		Sampler: model.SamplerConfig{Temperature: 0.8, TopP: 0.95, Seed: 5}}
	plain, err := infer.Generate(runner(t, m, 0), byteTok{}, nil, req)
	if err != nil {
		t.Fatal(err)
	}
	if len(plain.IDs) != 24 || plain.Steps != 23 {
		t.Fatalf("got %d ids, %d steps", len(plain.IDs), plain.Steps)
	}
	for _, mode := range []ee.Mode{ee.ModePerm, ee.ModeRotate} {
		k := newKey(t, mode, 3)
		em, err := ee.Transform(m, k)
		if err != nil {
			t.Fatal(err)
		}
		s := &spy{Runner: runner(t, em, 0)}
		var streamed strings.Builder
		r := req
		r.OnText = func(p string) { streamed.WriteString(p) }
		got, err := infer.Generate(s, byteTok{}, k, r)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got.IDs, plain.IDs) || got.Text != plain.Text {
			t.Fatalf("%s: ids %v, plain %v", mode, got.IDs, plain.IDs)
		}
		if streamed.String() != got.Text {
			t.Fatalf("%s: streamed %q, Text %q", mode, streamed.String(), got.Text)
		}
		want, _ := k.EncryptIDs(append(slices.Clone(got.PromptIDs), got.IDs[:len(got.IDs)-1]...))
		if !slices.Equal(s.seen, want) {
			t.Fatalf("%s: engine saw ids other than the encrypted stream", mode)
		}
		if slices.Equal(s.seen, append(slices.Clone(got.PromptIDs), got.IDs[:len(got.IDs)-1]...)) {
			t.Fatalf("%s: engine saw plaintext ids", mode)
		}
	}
}

type nanEngine struct{ pos int }

func (e *nanEngine) Forward(ids []int) ([]float32, error) {
	e.pos += len(ids)
	l := make([]float32, 259)
	for i := range l {
		l[i] = float32(math.NaN())
	}
	return l, nil
}
func (e *nanEngine) Pos() int    { return e.pos }
func (e *nanEngine) MaxSeq() int { return 64 }

func TestGenerateErrors(t *testing.T) {
	m := tinyModel(t)
	short := runner(t, m, 8)
	other := newKey(t, ee.ModePerm, 9)
	otherModel := tinyModel(t)
	otherModel.Embed[0] += 1
	if _, err := ee.Transform(otherModel, other); err != nil {
		t.Fatal(err)
	}
	unbound := newKey(t, ee.ModePerm, 10)
	for _, tc := range []struct {
		name string
		eng  infer.Engine
		tok  tokenizer.Tokenizer
		key  *ee.Key
		req  infer.Request
		want string
	}{
		{"nil engine", nil, byteTok{}, nil, infer.Request{Prompt: "a", N: 1}, "nil engine"},
		{"n zero", short, byteTok{}, nil, infer.Request{Prompt: "a", N: 0}, "n = 0"},
		{"prompt too long", short, byteTok{}, nil, infer.Request{Prompt: "abcdefghij", N: 1}, "exceeds the context"},
		{"prompt plus n", short, byteTok{}, nil, infer.Request{Prompt: "abc", N: 6}, "exceed the context"},
		{"bad sampler", short, byteTok{}, nil, infer.Request{Prompt: "a", N: 1, Sampler: model.SamplerConfig{TopP: 2}}, "top-p"},
		{"nan logits", &nanEngine{}, byteTok{}, nil, infer.Request{Prompt: "a", N: 2}, "NaN"},
		{"unbound key", short, byteTok{}, unbound, infer.Request{Prompt: "a", N: 1}, "not bound"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := infer.Generate(tc.eng, tc.tok, tc.key, tc.req)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tc.want)
			}
		})
	}
	// A key bound to a model with another vocabulary refuses ids or logits.
	vk := newKey(t, ee.ModePerm, 11)
	c, _ := model.PresetConfig("tinystories-656k")
	big, _ := model.RandomModel(c, 1)
	if _, err := ee.Transform(big, vk); err != nil {
		t.Fatal(err)
	}
	if _, err := infer.Generate(runner(t, m, 0), byteTok{}, vk, infer.Request{Prompt: "a", N: 2}); err == nil {
		t.Fatal("key for a 2048-token model accepted on a 259-token model")
	}
	// Errors never quote the prompt.
	_, err := infer.Generate(short, byteTok{}, nil, infer.Request{Prompt: "secret prompt", N: 1})
	if err == nil || strings.Contains(err.Error(), "secret") {
		t.Fatalf("error %v", err)
	}
}

// TestGoldenThroughEE is the conformance test of issue 2 through the client
// loop: on the real tinystories-656k model and the reference outputs of an
// independent C implementation, plain, perm and rotate generation reproduce
// every prompt's ids, the first-step logits within 1e-3 of the reference,
// the EE logits within 1e-4 (perm) and 1e-3 (rotate) of plain, and the
// 48-token greedy continuations for at least 9 of 10 prompts.
func TestGoldenThroughEE(t *testing.T) {
	dir := sharedtest.TinyStories(t)
	cases, err := evalset.Load(sharedtest.Golden(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(cases) < 10 {
		t.Fatalf("%d golden cases, want 10", len(cases))
	}
	base, err := hf.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := tokenizer.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	type run struct {
		name  string
		key   *ee.Key
		bound float64 // vs plain
	}
	runs := []run{{"plain", nil, 0}, {"perm", newKey(t, ee.ModePerm, 21), 1e-4}, {"rotate", newKey(t, ee.ModeRotate, 22), 1e-3}}
	plainFirst := make([][]float32, len(cases))
	for _, rc := range runs {
		m := base
		if rc.key != nil {
			if m, err = ee.Transform(base, rc.key); err != nil {
				t.Fatal(err)
			}
		}
		r := runner(t, m, 0)
		matched := 0
		var maxGolden, maxPlain float64
		for i, c := range cases {
			r.Reset()
			var first []float32
			res, err := infer.Generate(r, tok, rc.key, infer.Request{
				Prompt: c.Prompt, N: len(c.GreedyIDs), IgnoreEOS: true,
				OnLogits: func(step int, l []float32) {
					if step == 0 {
						first = slices.Clone(l)
					}
				},
			})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(res.PromptIDs, c.PromptIDs) {
				t.Fatalf("%s case %d: prompt ids differ from the reference", rc.name, i)
			}
			maxGolden = max(maxGolden, maxAbsDiff(first, c.FirstLogits))
			if rc.key == nil {
				plainFirst[i] = first
			} else {
				maxPlain = max(maxPlain, maxAbsDiff(first, plainFirst[i]))
			}
			if slices.Equal(res.IDs, c.GreedyIDs) {
				matched++
			}
		}
		t.Logf("%s: max |dlogit| vs reference %.3g, vs plain %.3g; greedy %d/%d", rc.name, maxGolden, maxPlain, matched, len(cases))
		if maxGolden > 1e-3 {
			t.Errorf("%s: first logits differ from the reference by %.3g > 1e-3", rc.name, maxGolden)
		}
		if rc.key != nil && maxPlain > rc.bound {
			t.Errorf("%s: EE logits differ from plain by %.3g > %g", rc.name, maxPlain, rc.bound)
		}
		if matched < 9 {
			t.Errorf("%s: greedy continuations match for %d of %d prompts, want >= 9", rc.name, matched, len(cases))
		}
	}
}

func maxAbsDiff(a, b []float32) float64 {
	if len(a) != len(b) {
		return math.Inf(1)
	}
	var d float64
	for i := range a {
		d = max(d, math.Abs(float64(a[i])-float64(b[i])))
	}
	return d
}
