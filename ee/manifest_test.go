package ee

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestManifestRoundTripAndCheck(t *testing.T) {
	base := randomModel(t, gpt2Config(), 3)
	k := testKey(t, ModeRotate, 31)
	if _, err := NewManifest(k, base); err == nil {
		t.Fatal("manifest for an unbound key")
	}
	enc, err := Transform(base, k)
	if err != nil {
		t.Fatal(err)
	}
	m, err := NewManifest(k, enc)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if got, err := ReadManifest(dir); got != nil || err != nil {
		t.Fatalf("empty dir: %v, %v", got, err)
	}
	if got, err := ReadManifest(filepath.Join(dir, "missing")); got != nil || err != nil {
		t.Fatalf("missing path: %v, %v", got, err)
	}
	if err := WriteManifest(dir, m); err != nil {
		t.Fatal(err)
	}
	got, err := ReadManifest(dir)
	if err != nil || *got != *m {
		t.Fatalf("read back %+v, %v; want %+v", got, err, m)
	}
	if err := got.Check(k, enc); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(dir, ManifestFileName))
	if strings.Contains(string(b), string(k.secret[:4])) {
		t.Fatal("manifest contains secret bytes")
	}
	other := testKey(t, ModeRotate, 32)
	if err := got.Check(other, enc); err == nil || !strings.Contains(err.Error(), "different key") {
		t.Fatalf("other key: %v", err)
	}
	tampered := randomModel(t, gpt2Config(), 3)
	tampered.Embed[5] += 1
	tEnc, err := Transform(tampered, testKey(t, ModeRotate, 31))
	if err != nil {
		t.Fatal(err)
	}
	if err := got.Check(k, tEnc); err == nil || !strings.Contains(err.Error(), "fingerprint") {
		t.Fatalf("changed weights: %v", err)
	}
}

func TestParseManifestRejects(t *testing.T) {
	good := Manifest{Format: manifestFormat, Version: 1, Mode: ModePerm, KeyID: "0123456789ab",
		BaseFingerprint: strings.Repeat("ab", 32), Fingerprint: strings.Repeat("cd", 32)}
	enc := func(m Manifest) string { b, _ := json.Marshal(m); return string(b) }
	if _, err := ParseManifest([]byte(enc(good))); err != nil {
		t.Fatal(err)
	}
	mod := func(f func(*Manifest)) string { m := good; f(&m); return enc(m) }
	for name, in := range map[string]string{
		"empty":       "",
		"not json":    "{",
		"trailing":    enc(good) + "{}",
		"unknown":     strings.Replace(enc(good), `"format"`, `"extra":1,"format"`, 1),
		"format":      mod(func(m *Manifest) { m.Format = "x" }),
		"version":     mod(func(m *Manifest) { m.Version = 2 }),
		"mode":        mod(func(m *Manifest) { m.Mode = "nope" }),
		"key id":      mod(func(m *Manifest) { m.KeyID = "zz" }),
		"fingerprint": mod(func(m *Manifest) { m.Fingerprint = "00" }),
		"base fp hex": mod(func(m *Manifest) { m.BaseFingerprint = strings.Repeat("g", 64) }),
		"too large":   enc(good) + strings.Repeat(" ", maxManifestSize),
	} {
		if _, err := ParseManifest([]byte(in)); err == nil || !strings.HasPrefix(err.Error(), "ee: manifest: ") {
			t.Errorf("%s: err = %v", name, err)
		}
	}
}

func FuzzParseManifest(f *testing.F) {
	f.Add([]byte(`{"format":"hssee-ee-model","version":1,"mode":"rotate","key_id":"0123456789ab","base_fingerprint":"` +
		strings.Repeat("ab", 32) + `","fingerprint":"` + strings.Repeat("cd", 32) + `"}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseManifest(b)
		if err != nil {
			return
		}
		out, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		m2, err := ParseManifest(out)
		if err != nil || *m2 != *m {
			t.Fatalf("accepted manifest does not round-trip: %v", err)
		}
	})
}
