// Package loader opens a model checkpoint of any supported format by path:
// a directory is a Hugging Face model directory (config.json + safetensors,
// see model/hf), a file is a llama2.c legacy checkpoint (see model/llama2c).
package loader

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/hssee/hssee/model"
	"github.com/hssee/hssee/model/hf"
	"github.com/hssee/hssee/model/llama2c"
)

// Load reads the model at path. The result passes model.Check.
func Load(path string) (*model.Model, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("model: load: %w", err)
	}
	if st.IsDir() {
		return hf.Load(path)
	}
	return llama2c.Load(path)
}

// Source opens a model named either by a random-weight preset (preset != "",
// weights drawn from seed) or by a path; exactly one of the two must be
// given. It also returns a short display name.
func Source(preset, path string, seed uint64) (*model.Model, string, error) {
	switch {
	case (preset == "") == (path == ""):
		return nil, "", fmt.Errorf("model: give exactly one of a preset and a path")
	case preset != "":
		m, err := model.Preset(preset, seed)
		return m, preset, err
	}
	m, err := Load(path)
	return m, filepath.Base(filepath.Clean(path)), err
}
