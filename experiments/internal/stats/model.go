package stats

import (
	"fmt"

	"github.com/hssee/hssee/model"
	"github.com/hssee/hssee/model/loader"
)

// LoadModel opens the benchmark's model (loader.Source: a preset with random weights from seed, or a
// checkpoint at path) and checks that a prompt of promptLen tokens and decode more fit its context.
func LoadModel(preset, path string, seed uint64, promptLen, decode int) (*model.Model, string, error) {
	m, name, err := loader.Source(preset, path, seed)
	if err != nil {
		return nil, "", err
	}
	if c := m.Config; promptLen+decode > c.MaxSeqLen {
		return nil, "", fmt.Errorf("prompt %d + decode %d exceed the context %d", promptLen, decode, c.MaxSeqLen)
	}
	return m, name, nil
}
