package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hssee/hssee/internal/evalset"
	"github.com/hssee/hssee/internal/sharedtest"
	"github.com/hssee/hssee/model"
	"github.com/hssee/hssee/model/llama2c"
)

func client(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(args, &out, &errOut)
	return out.String(), errOut.String(), err
}

func mustClient(t *testing.T, args ...string) string {
	t.Helper()
	out, errOut, err := client(t, args...)
	if err != nil {
		t.Fatalf("client %v: %v\n%s", args, err, errOut)
	}
	return out
}

func genJSON(t *testing.T, args ...string) genOutput {
	t.Helper()
	var g genOutput
	if err := json.Unmarshal([]byte(mustClient(t, append([]string{"generate", "-json"}, args...)...)), &g); err != nil {
		t.Fatal(err)
	}
	return g
}

func TestKeygen(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "k")
	out := mustClient(t, "keygen", "-out", key, "-mode", "perm")
	if !strings.Contains(out, "perm key") {
		t.Fatalf("output %q", out)
	}
	st, err := os.Stat(key)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", st, err)
	}
	old, _ := os.ReadFile(key)
	if _, _, err := client(t, "keygen", "-out", key); err == nil || !strings.Contains(err.Error(), "exists") {
		t.Fatalf("overwrite without -force: %v", err)
	}
	mustClient(t, "keygen", "-out", key, "-force")
	if now, _ := os.ReadFile(key); bytes.Equal(now, old) {
		t.Fatal("-force kept the old key")
	}
	if strings.Contains(out, string(old[16:48])) {
		t.Fatal("keygen printed secret bytes")
	}
}

func TestUsageErrors(t *testing.T) {
	var u usageError
	for _, args := range [][]string{
		{},
		{"nope"},
		{"keygen"},
		{"keygen", "-out", "x", "-mode", "bogus"},
		{"keygen", "-out", "x", "extra"},
		{"transform", "-model", "x"},
		{"generate"},
		{"generate", "-model", "x", "-threads", "-1"},
		{"generate", "-bogus-flag"},
		{"generate", "-model", "x", "-mode", "bogus"},
		{"generate", "-model", "x", "-mode", "plain", "-key", "k"},
		{"generate", "-model", "x", "-mode", "ee", "-ee-mode", "nope"},
		{"generate", "-model", "x", "-mode", "hss", "-frac", "16"},
		{"demo", "-frac", "7"},
	} {
		if _, _, err := client(t, args...); !errors.As(err, &u) {
			t.Errorf("%v: err = %v, want a usage error", args, err)
		}
	}
	if out, _, err := client(t, "help"); err != nil || !strings.Contains(out, "generate") {
		t.Errorf("help: %v %q", err, out)
	}
}

// TestTransformGenerateTinyStories walks the user's path on the real model:
// keygen, generate plain, generate through EE from the base model, transform
// to a directory, generate from the EE directory, and the errors on the way.
func TestTransformGenerateTinyStories(t *testing.T) {
	base := sharedtest.TinyStories(t)
	cases, err := evalset.Load(sharedtest.Golden(t))
	if err != nil {
		t.Fatal(err)
	}
	c := cases[0]
	dir := t.TempDir()
	key := filepath.Join(dir, "ee.key")
	eeDir := filepath.Join(dir, "ee-model")
	mustClient(t, "keygen", "-out", key)

	n := []string{"-prompt", c.Prompt, "-n", "48", "-ignore-eos"}
	plain := genJSON(t, append([]string{"-model", base}, n...)...)
	if !slices.Equal(plain.PromptIDs, c.PromptIDs) || !slices.Equal(plain.IDs, c.GreedyIDs) || plain.Mode != "plain" {
		t.Fatalf("plain generate: %+v", plain)
	}
	if plain.Text == "" || plain.PrefillMS <= 0 || plain.DecodeMSPerToken <= 0 {
		t.Fatalf("plain generate: text %q, prefill %v ms, decode %v ms/token", plain.Text, plain.PrefillMS, plain.DecodeMSPerToken)
	}
	inMem := genJSON(t, append([]string{"-model", base, "-key", key}, n...)...)
	if !slices.Equal(inMem.IDs, plain.IDs) || inMem.Text != plain.Text || inMem.Mode != "ee" {
		t.Fatalf("EE (in memory) differs from plain: %+v", inMem)
	}

	// The real model is public: ee mode warns, hss mode does not.
	if _, errOut, err := client(t, append([]string{"generate", "-model", base, "-mode", "ee"}, n...)...); err != nil || !strings.Contains(errOut, "public base model") {
		t.Fatalf("ee mode on a public base: err %v, stderr %q", err, errOut)
	}
	for _, m := range []string{"rotate", "perm"} {
		session := genJSON(t, append([]string{"-model", base, "-mode", "ee", "-ee-mode", m}, n...)...)
		if !slices.Equal(session.IDs, plain.IDs) || session.Mode != "ee" {
			t.Fatalf("EE with a %s session key differs from plain: %+v", m, session)
		}
	}

	// HSS-EE, both parties in process: the same first tokens, with costs reported.
	hssOut := genJSON(t, "-model", base, "-mode", "hss", "-prompt", c.Prompt, "-n", "4", "-ignore-eos")
	if !slices.Equal(hssOut.IDs, plain.IDs[:4]) || hssOut.Mode != "hss" || hssOut.OnlineBytes == nil ||
		*hssOut.OnlineBytes <= 0 || *hssOut.Rounds <= 0 || *hssOut.DealerBytes <= 0 || *hssOut.OnlineMS <= 0 {
		t.Fatalf("hss generate: %+v", hssOut)
	}

	out := mustClient(t, "transform", "-model", base, "-key", key, "-out", eeDir)
	if !strings.Contains(out, "wrote EE model") {
		t.Fatalf("transform output %q", out)
	}
	fromDir := genJSON(t, append([]string{"-model", eeDir, "-key", key, "-tokenizer", base}, n...)...)
	if !slices.Equal(fromDir.IDs, plain.IDs) {
		t.Fatalf("EE directory differs from plain: %v vs %v", fromDir.IDs, plain.IDs)
	}
	// Sampling is seeded: same seed, same text; EE and plain agree.
	s := []string{"-prompt", c.Prompt, "-n", "32", "-temp", "0.9", "-top-p", "0.9", "-seed", "7"}
	a := genJSON(t, append([]string{"-model", base}, s...)...)
	b := genJSON(t, append([]string{"-model", eeDir, "-key", key, "-tokenizer", base}, s...)...)
	if !slices.Equal(a.IDs, b.IDs) {
		t.Fatalf("seeded sampling: plain %v, EE %v", a.IDs, b.IDs)
	}
	// Streaming text mode prints prompt + continuation.
	if txt := mustClient(t, append([]string{"generate", "-model", base}, n...)...); txt != c.Prompt+plain.Text+"\n" {
		t.Fatalf("streamed %q", txt)
	}

	other := filepath.Join(dir, "other.key")
	mustClient(t, "keygen", "-out", other)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"generate", "-model", eeDir, "-prompt", "hi"}, "give its key"},
		{[]string{"generate", "-model", eeDir, "-key", key, "-prompt", "hi"}, "-tokenizer"},
		{[]string{"generate", "-model", eeDir, "-key", other, "-tokenizer", base, "-prompt", "hi"}, "different key"},
		{[]string{"generate", "-model", base, "-prompt", strings.Repeat("once upon a time ", 200)}, "exceeds the context"},
		{[]string{"generate", "-model", filepath.Join(dir, "missing"), "-prompt", "hi"}, "no such file"},
		{[]string{"transform", "-model", eeDir, "-key", key, "-out", filepath.Join(dir, "x")}, "already an EE model"},
		{[]string{"transform", "-model", base, "-key", key, "-out", eeDir}, "not empty"},
		{[]string{"generate", "-model", base, "-key", filepath.Join(dir, "missing.key"), "-prompt", "hi"}, "load key"},
	} {
		if _, _, err := client(t, tc.args...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: err = %v, want %q", tc.args, err, tc.want)
		}
	}
	// The bound key refuses another model.
	other2 := filepath.Join(dir, "m2")
	m, err := model.Preset("tinystories-656k", 1)
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(other2 + ".bin")
	writeBin(t, bin, m)
	if _, _, err := client(t, "transform", "-model", bin, "-key", key, "-out", other2); err == nil || !strings.Contains(err.Error(), "different model") {
		t.Fatalf("bound key on another model: %v", err)
	}
	// A corrupt EE directory is refused by its fingerprint.
	st := filepath.Join(eeDir, "model.safetensors")
	raw, _ := os.ReadFile(st)
	raw[len(raw)-1] ^= 0x40
	if err := os.WriteFile(st, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := client(t, "generate", "-model", eeDir, "-key", key, "-tokenizer", base, "-prompt", "hi"); err == nil || !strings.Contains(err.Error(), "fingerprint") {
		t.Fatalf("tampered EE model: %v", err)
	}
}

func writeBin(t *testing.T, path string, m *model.Model) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := llama2c.Write(f, m); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestLlama2cCheckpoint: a llama2.c .bin with tokenizer.bin beside it runs
// plain and through EE (interleaved RoPE; the EE directory is written in the
// Hugging Face layout), with the same greedy ids.
func TestLlama2cCheckpoint(t *testing.T) {
	tok := sharedtest.Path(t, "models", "llama2c", "tok512.bin")
	dir := t.TempDir()
	c, _ := model.PresetConfig("tinystories-656k")
	c.VocabSize, c.RopeStyle, c.NormEps = 512, model.RopeInterleaved, llama2c.NormEps
	m, err := model.RandomModel(c, 3)
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "m.bin")
	writeBin(t, bin, m)
	raw, err := os.ReadFile(tok)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "tokenizer.bin"), raw, 0o644); err != nil {
		t.Fatal(err)
	}
	key := filepath.Join(dir, "k")
	mustClient(t, "keygen", "-out", key)
	args := []string{"-prompt", "Once upon a time", "-n", "16", "-ignore-eos"}
	plain := genJSON(t, append([]string{"-model", bin}, args...)...)
	mustClient(t, "transform", "-model", bin, "-key", key, "-out", filepath.Join(dir, "ee"))
	enc := genJSON(t, append([]string{"-model", filepath.Join(dir, "ee"), "-key", key, "-tokenizer", tok}, args...)...)
	if len(plain.IDs) != 16 || !slices.Equal(plain.IDs, enc.IDs) {
		t.Fatalf("plain %v, EE %v", plain.IDs, enc.IDs)
	}
}
