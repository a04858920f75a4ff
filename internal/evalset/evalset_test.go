package evalset

import (
	"strings"
	"testing"
)

func TestRead(t *testing.T) {
	in := `{"prompt":"a","prompt_ids":[1,5],"greedy_ids":[7,8],"first_logits":[0.5,-1]}

{"prompt":"b","prompt_ids":[1],"greedy_ids":[9]}
`
	cs, err := Read(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 2 || cs[0].Prompt != "a" || cs[0].GreedyIDs[1] != 8 || cs[0].FirstLogits[1] != -1 || cs[1].FirstLogits != nil {
		t.Fatalf("%+v", cs)
	}
	for name, bad := range map[string]string{
		"empty":      "",
		"not json":   "{",
		"no prompt":  `{"prompt_ids":[1],"greedy_ids":[2]}`,
		"no ids":     `{"prompt":"a","greedy_ids":[2]}`,
		"no greedy":  `{"prompt":"a","prompt_ids":[1]}`,
		"wrong type": `{"prompt":"a","prompt_ids":"x","greedy_ids":[2]}`,
	} {
		if _, err := Read(strings.NewReader(bad)); err == nil || !strings.HasPrefix(err.Error(), "evalset: ") {
			t.Errorf("%s: err = %v", name, err)
		}
	}
	if _, err := Load("/nonexistent/file.jsonl"); err == nil {
		t.Error("missing file accepted")
	}
}
