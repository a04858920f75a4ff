// Package evalset reads reference-output files in the JSON-lines format of
// ../shared/eval (one object per prompt: its text, token ids, greedy
// continuation and first-step logits from an independent implementation).
package evalset

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
)

// Case is one prompt's reference outputs.
type Case struct {
	Prompt      string    `json:"prompt"`
	PromptIDs   []int     `json:"prompt_ids"`
	GreedyIDs   []int     `json:"greedy_ids"`
	FirstLogits []float32 `json:"first_logits"`
}

// maxLine bounds one JSON line (a case holds one vocabulary of logits).
const maxLine = 64 << 20

// Read parses every case in r; blank lines are skipped. A case without a
// prompt, prompt ids or greedy ids is an error naming its line.
func Read(r io.Reader) ([]Case, error) {
	var cases []Case
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, maxLine)
	for line := 1; sc.Scan(); line++ {
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		var c Case
		if err := json.Unmarshal(b, &c); err != nil {
			return nil, fmt.Errorf("evalset: line %d: %w", line, err)
		}
		if c.Prompt == "" || len(c.PromptIDs) == 0 || len(c.GreedyIDs) == 0 {
			return nil, fmt.Errorf("evalset: line %d: missing prompt, prompt_ids or greedy_ids", line)
		}
		cases = append(cases, c)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("evalset: %w", err)
	}
	if len(cases) == 0 {
		return nil, fmt.Errorf("evalset: no cases")
	}
	return cases, nil
}

// Load reads the file at path.
func Load(path string) ([]Case, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("evalset: %w", err)
	}
	defer f.Close()
	return Read(f)
}
