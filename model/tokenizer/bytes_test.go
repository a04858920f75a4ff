package tokenizer

import (
	"errors"
	"testing"
)

func TestBytes(t *testing.T) {
	var tok Tokenizer = Bytes{}
	text := "Once upon a time\n\x00\xff é"
	ids, err := tok.Encode(text, true)
	if err != nil || ids[0] != 1 || len(ids) != len(text)+1 {
		t.Fatalf("encode: %v %v", ids, err)
	}
	got, err := tok.Decode(ids)
	if err != nil || got != text {
		t.Fatalf("decode: %q %v", got, err)
	}
	var s string
	prev := -1
	for _, id := range ids {
		p, err := tok.DecodeToken(prev, id)
		if err != nil {
			t.Fatal(err)
		}
		s, prev = s+p, id
	}
	if s != text {
		t.Fatalf("streamed %q", s)
	}
	for _, bad := range []int{-1, 259} {
		if _, err := tok.Decode([]int{bad}); !errors.Is(err, ErrTokenID) {
			t.Errorf("id %d: %v", bad, err)
		}
	}
}
