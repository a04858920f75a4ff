package loader

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/hssee/hssee/model"
	"github.com/hssee/hssee/model/hf"
	"github.com/hssee/hssee/model/llama2c"
)

func TestLoadBothFormats(t *testing.T) {
	m, err := model.Preset("tinystories-656k", 2)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	hfDir := filepath.Join(dir, "hf")
	if err := hf.Save(hfDir, m); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "m.bin")
	f, err := os.Create(bin)
	if err != nil {
		t.Fatal(err)
	}
	if err := llama2c.Write(f, m); err != nil {
		t.Fatal(err)
	}
	f.Close()
	for _, p := range []string{hfDir, bin} {
		got, err := Load(p)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if got.Config.Dim != m.Config.Dim || got.Config.VocabSize != m.Config.VocabSize {
			t.Fatalf("%s: config %+v", p, got.Config)
		}
	}
	if _, name, err := Source("", hfDir, 0); err != nil || name != "hf" {
		t.Fatalf("Source path: %q %v", name, err)
	}
	if _, name, err := Source("tinystories-656k", "", 1); err != nil || name != "tinystories-656k" {
		t.Fatalf("Source preset: %q %v", name, err)
	}
	for _, c := range [][2]string{{"", ""}, {"tinystories-656k", hfDir}, {"", filepath.Join(dir, "missing")}, {"", dir}} {
		if _, _, err := Source(c[0], c[1], 0); err == nil {
			t.Errorf("Source(%q, %q): no error", c[0], c[1])
		}
	}
}
