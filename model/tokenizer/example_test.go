package tokenizer_test

import (
	"fmt"

	"github.com/hssee/hssee/model/tokenizer"
)

// A GPT-2 style byte-level BPE from a vocab.json and merges.txt. Byte-level
// symbols spell a space as "Ġ".
func ExampleParseGPT2() {
	vocab := []byte(`{"s":0,"a":1,"y":2,"Ġ":3,"h":4,"i":5,"Ġh":6,"Ġhi":7,"<|endoftext|>":8}`)
	merges := []byte("#version: 0.2\nĠ h\nĠh i\n")
	tok, err := tokenizer.ParseGPT2(vocab, merges)
	if err != nil {
		panic(err)
	}
	ids, _ := tok.Encode("say hi", true)
	text, _ := tok.Decode(ids)
	fmt.Println(ids, text)
	// Output: [8 0 1 2 7] say hi
}
