package ee

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/hssee/hssee/model"
)

func TestGenerateKey(t *testing.T) {
	if _, err := GenerateKey(bytes.NewReader(make([]byte, 32)), ModeRotate); err == nil {
		t.Error("all-zero secret accepted")
	}
	if _, err := GenerateKey(bytes.NewReader([]byte{1, 2, 3}), ModeRotate); err == nil {
		t.Error("short random source accepted")
	}
	if _, err := GenerateKey(bytes.NewReader(make([]byte, 32)), "shuffle"); err == nil {
		t.Error("unknown mode accepted")
	}
	for _, s := range []string{"", "perm", "rotate"} {
		if _, err := ParseMode(s); err != nil {
			t.Errorf("ParseMode(%q): %v", s, err)
		}
	}
	if m, _ := ParseMode(""); m != ModeRotate {
		t.Errorf("default mode %q", m)
	}
	if _, err := ParseMode("Rotate"); err == nil {
		t.Error("ParseMode accepted a wrong spelling")
	}
}

func TestKeyNeverPrintsSecret(t *testing.T) {
	k := testKey(t, ModePerm, 42)
	secretHex := hex.EncodeToString(k.secret[:])
	var logBuf bytes.Buffer
	slog.New(slog.NewJSONHandler(&logBuf, nil)).Info("key", "k", k)
	slog.New(slog.NewTextHandler(&logBuf, nil)).Info("key", "k", k)
	outs := []string{logBuf.String(), k.String(), k.GoString()}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%T"} {
		outs = append(outs, fmt.Sprintf(verb, k))
	}
	outs = append(outs, fmt.Sprint(k), fmt.Sprintf("%v", []*Key{k}), fmt.Sprintf("%+v", struct{ K *Key }{k}))
	for _, s := range outs {
		if strings.Contains(strings.ToLower(s), secretHex[:16]) || strings.Contains(s, string(k.secret[:8])) {
			t.Fatalf("secret leaked: %q", s)
		}
		if strings.Contains(s, fmt.Sprint(k.secret[:4])[1:8]) {
			t.Fatalf("secret bytes leaked: %q", s)
		}
	}
	if !strings.Contains(k.String(), "perm") || !strings.Contains(k.String(), k.ID()) {
		t.Errorf("String() = %q lacks mode or id", k.String())
	}
	if !strings.Contains(logBuf.String(), k.ID()) {
		t.Errorf("log lacks key id: %s", logBuf.String())
	}
}

func TestKeyMarshalRoundTrip(t *testing.T) {
	k := testKey(t, ModeRotate, 5)
	b, err := k.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	k2, err := UnmarshalKey(b)
	if err != nil {
		t.Fatal(err)
	}
	if k2.secret != k.secret || k2.mode != k.mode || k2.vocab != 0 {
		t.Fatal("round trip changed the key")
	}
	// Bound key.
	m := randomModel(t, llamaConfig(model.RopeHalf, 4, 2, true), 1)
	if _, err := Transform(m, k); err != nil {
		t.Fatal(err)
	}
	b, _ = k.MarshalBinary()
	k3, err := UnmarshalKey(b)
	if err != nil {
		t.Fatal(err)
	}
	fp, ok := k3.ModelFingerprint()
	if want, _ := k.ModelFingerprint(); !ok || fp != want || k3.VocabSize() != m.Config.VocabSize {
		t.Fatal("binding lost in round trip")
	}
	if _, err := Transform(m, k3); err != nil {
		t.Fatalf("reloaded key refused its model: %v", err)
	}
}

// reseal recomputes the checksum after a deliberate edit.
func reseal(b []byte) []byte {
	b = append([]byte(nil), b...)
	sum := sha256.Sum256(b[:keyLen-32])
	copy(b[keyLen-32:], sum[:])
	return b
}

func TestUnmarshalKeyRejects(t *testing.T) {
	k := testKey(t, ModePerm, 7)
	good, _ := k.MarshalBinary()
	edit := func(f func(b []byte)) []byte {
		b := append([]byte(nil), good...)
		f(b)
		return reseal(b)
	}
	for _, tc := range []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"short", good[:keyLen-1]},
		{"long", append(append([]byte(nil), good...), 0)},
		{"bit flip", func() []byte { b := append([]byte(nil), good...); b[20] ^= 1; return b }()},
		{"magic", edit(func(b []byte) { b[0] = 'X' })},
		{"version", edit(func(b []byte) { b[8] = 2 })},
		{"mode", edit(func(b []byte) { b[10] = 9 })},
		{"flags", edit(func(b []byte) { b[11] = 1 })},
		{"zero secret", edit(func(b []byte) { clear(b[16:48]) })},
		{"vocab without model", edit(func(b []byte) { b[12] = 5 })},
		{"model without vocab", edit(func(b []byte) { b[50] = 1 })},
		{"huge vocab", edit(func(b []byte) { b[15] = 0xff; b[50] = 1 })},
	} {
		if _, err := UnmarshalKey(tc.b); err == nil {
			t.Errorf("%s: accepted", tc.name)
		} else if !strings.HasPrefix(err.Error(), "ee: unmarshal key: ") {
			t.Errorf("%s: error %q lacks prefix", tc.name, err)
		}
	}
}

func FuzzUnmarshalKey(f *testing.F) {
	k := testKey(f, ModeRotate, 11)
	good, _ := k.MarshalBinary()
	f.Add(good)
	f.Add([]byte{})
	f.Add([]byte(keyMagic))
	f.Add(reseal(append(good[:12:12], make([]byte, keyLen-12)...)))
	f.Fuzz(func(t *testing.T, b []byte) {
		k, err := UnmarshalKey(b)
		if err != nil {
			return
		}
		b2, err := k.MarshalBinary()
		if err != nil {
			t.Fatalf("accepted key does not marshal: %v", err)
		}
		if !bytes.Equal(b, b2) {
			t.Fatal("accepted key does not round-trip")
		}
	})
}

func TestSaveLoadKey(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ee.key")
	k := testKey(t, ModeRotate, 13)
	if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := SaveKey(path, k); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" && st.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %#o, want 0600", st.Mode().Perm())
	}
	k2, err := LoadKey(path)
	if err != nil {
		t.Fatal(err)
	}
	if k2.secret != k.secret || k2.mode != k.mode {
		t.Fatal("load returned a different key")
	}
	if runtime.GOOS != "windows" {
		if err := os.Chmod(path, 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := LoadKey(path); err == nil {
			t.Error("world-readable key file accepted")
		}
	}
	if _, err := LoadKey(filepath.Join(dir, "missing")); err == nil {
		t.Error("missing file accepted")
	}
	if err := os.WriteFile(filepath.Join(dir, "bad"), []byte("nope"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadKey(filepath.Join(dir, "bad")); err == nil {
		t.Error("garbage key file accepted")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 2 { // ee.key and bad
		t.Errorf("temporary files left behind: %v", entries)
	}
}

func TestTokenAPI(t *testing.T) {
	k := testKey(t, ModePerm, 17)
	if _, err := k.EncryptIDs([]int{1}); err == nil {
		t.Error("unbound key encrypted ids")
	}
	if _, err := k.DecryptLogits(make([]float32, 4)); err == nil {
		t.Error("unbound key decrypted logits")
	}
	m := randomModel(t, gpt2Config(), 3)
	if _, err := Transform(m, k); err != nil {
		t.Fatal(err)
	}
	v := m.Config.VocabSize
	all := make([]int, v)
	for i := range all {
		all[i] = i
	}
	enc, err := k.EncryptIDs(all)
	if err != nil {
		t.Fatal(err)
	}
	seen, moved := make([]bool, v), 0
	for i, e := range enc {
		if seen[e] {
			t.Fatal("EncryptIDs is not a permutation")
		}
		seen[e] = true
		if e != i {
			moved++
		}
	}
	if moved < v/2 {
		t.Errorf("only %d of %d ids moved", moved, v)
	}
	dec, err := k.DecryptIDs(enc)
	if err != nil {
		t.Fatal(err)
	}
	for i := range dec {
		if dec[i] != i {
			t.Fatal("DecryptIDs does not invert EncryptIDs")
		}
	}
	// A one-hot logit on encrypted id π(v) must decrypt to a one-hot on v,
	// for each of two rows.
	logits := make([]float32, 2*v)
	logits[enc[5]] = 1
	logits[v+enc[9]] = 2
	out, err := k.DecryptLogits(logits)
	if err != nil {
		t.Fatal(err)
	}
	for i, x := range out {
		want := float32(0)
		if i == 5 {
			want = 1
		} else if i == v+9 {
			want = 2
		}
		if x != want {
			t.Fatalf("DecryptLogits[%d] = %v, want %v", i, x, want)
		}
	}
	for _, bad := range [][]int{{-1}, {v}, {0, 1, v + 100}} {
		if _, err := k.EncryptIDs(bad); err == nil {
			t.Errorf("EncryptIDs(%v) accepted", bad)
		} else if strings.Contains(err.Error(), fmt.Sprint(v+100)) {
			t.Errorf("error echoes the id: %v", err)
		}
		if _, err := k.DecryptIDs(bad); err == nil {
			t.Errorf("DecryptIDs(%v) accepted", bad)
		}
	}
	for _, n := range []int{0, v - 1, v + 1} {
		if _, err := k.DecryptLogits(make([]float32, n)); err == nil {
			t.Errorf("DecryptLogits of length %d accepted", n)
		}
	}
}
