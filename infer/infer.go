// Package infer is the client's generation loop: tokenize a prompt, map the
// ids through an EE key (when there is one), run an engine that returns the
// next-token logits, decrypt them, sample, and stream text.
//
// The engine is anything with the shape of model.Runner's Forward: the plain
// float32 executor running a plain or an EE model, a single EE server
// (party.EE), or HSS-EE (HSS: both parties in this process, or two deployed
// parties through party.Client, with the dealer in the client or the dealer
// service). The loop never sees weights, and with a key the engine never
// sees a plaintext token id or plaintext-ordered logits.
package infer

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hssee/hssee/ee"
	"github.com/hssee/hssee/model"
	"github.com/hssee/hssee/model/tokenizer"
)

// Engine computes logits. Forward appends ids at the current position and
// returns the logits (VocabSize of them) predicting the token after the last
// one; the slice may be reused by the next call. Pos is the number of
// positions already filled and MaxSeq the capacity.
type Engine interface {
	Forward(ids []int) ([]float32, error)
	Pos() int
	MaxSeq() int
}

// lastPasser is an Engine that can be told that its next Forward is the
// last of a generation (HSS: no next step's material to prefetch).
type lastPasser interface{ LastPass() }

// Request is one generation.
type Request struct {
	Prompt string
	// N is the number of tokens to generate (at most; generation stops early
	// at the end-of-sequence token unless IgnoreEOS).
	N         int
	Sampler   model.SamplerConfig
	IgnoreEOS bool
	// OnText, when set, receives each generated token's text as it is
	// sampled.
	OnText func(string)
	// OnLogits, when set, receives the plaintext-ordered (decrypted) logits
	// of each step before sampling; step 0 follows the prompt. The slice is
	// reused after the call returns. Logits are secret: tools that use this
	// (fidelity measurements) must not log them.
	OnLogits func(step int, logits []float32)
}

// Result is what a generation produced. Times are wall clock: Prefill covers
// the forward pass over the prompt and the first sample; Decode the rest.
type Result struct {
	PromptIDs []int         // plaintext prompt ids, BOS first when the tokenizer has one
	IDs       []int         // generated plaintext ids only
	Text      string        // text of IDs, as it follows the prompt
	Prefill   time.Duration // prompt forward pass + first sample
	Decode    time.Duration // every later step
	Steps     int           // decode steps timed in Decode (len(IDs) - 1, or 0)
}

// DecodePerToken is Decode divided by Steps (0 when there were none).
func (r *Result) DecodePerToken() time.Duration {
	if r.Steps == 0 {
		return 0
	}
	return r.Decode / time.Duration(r.Steps)
}

// PromptIDs is the prompt as Generate feeds it to the engine: its tokens,
// after BOS when the tokenizer has one (plain ids, before EE).
func PromptIDs(tok tokenizer.Tokenizer, prompt string) ([]int, error) {
	return tok.Encode(prompt, tok.BOS() >= 0)
}

// Generate runs req on eng. With key == nil the engine runs a plain model on
// plaintext ids; with a key, the engine runs the EE model Transform made
// under that key: prompt and sampled ids are encrypted before they reach the
// engine and its logits decrypted before sampling.
func Generate(eng Engine, tok tokenizer.Tokenizer, key *ee.Key, req Request) (*Result, error) {
	if eng == nil || tok == nil {
		return nil, errors.New("infer: generate: nil engine or tokenizer")
	}
	if req.N < 1 {
		return nil, fmt.Errorf("infer: generate: n = %d, want at least 1", req.N)
	}
	sampler, err := model.NewSampler(req.Sampler)
	if err != nil {
		return nil, fmt.Errorf("infer: generate: %w", err)
	}
	ids, err := PromptIDs(tok, req.Prompt)
	if err != nil {
		return nil, fmt.Errorf("infer: generate: %w", err)
	}
	if len(ids) == 0 {
		return nil, errors.New("infer: generate: empty prompt (and no BOS token)")
	}
	room := eng.MaxSeq() - eng.Pos()
	if len(ids) > room {
		return nil, fmt.Errorf("infer: generate: prompt of %d tokens exceeds the context (%d positions left)", len(ids), room)
	}
	if len(ids)+req.N-1 > room {
		return nil, fmt.Errorf("infer: generate: prompt of %d tokens + %d generated exceed the context (%d positions left)", len(ids), req.N, room)
	}

	res := &Result{PromptIDs: ids}
	forward := func(plain []int) ([]float32, error) {
		if key == nil {
			return eng.Forward(plain)
		}
		enc, err := key.EncryptIDs(plain)
		if err != nil {
			return nil, err
		}
		logits, err := eng.Forward(enc)
		if err != nil {
			return nil, err
		}
		return key.DecryptLogits(logits)
	}

	var text strings.Builder
	prev := ids[len(ids)-1]
	start := time.Now()
	logits, err := forward(ids)
	for err == nil {
		if req.OnLogits != nil {
			req.OnLogits(len(res.IDs), logits)
		}
		id := sampler.Sample(logits)
		if id < 0 {
			err = errors.New("model returned no usable logits (all NaN)")
			break
		}
		if len(res.IDs) == 0 {
			res.Prefill = time.Since(start)
			start = time.Now()
		}
		if !req.IgnoreEOS && id == tok.EOS() {
			break
		}
		res.IDs = append(res.IDs, id)
		piece, derr := tok.DecodeToken(prev, id)
		if derr != nil {
			err = derr
			break
		}
		text.WriteString(piece)
		if req.OnText != nil {
			req.OnText(piece)
		}
		prev = id
		if len(res.IDs) == req.N {
			break
		}
		if f, ok := eng.(lastPasser); ok && len(res.IDs) == req.N-1 {
			f.LastPass() // nothing follows this pass: no need to prepare one
		}
		logits, err = forward([]int{id})
		res.Steps++
	}
	if len(res.IDs) > 0 || res.Steps > 0 {
		res.Decode = time.Since(start)
	}
	if err != nil {
		return nil, fmt.Errorf("infer: generate: %w", err)
	}
	res.Text = text.String()
	return res, nil
}
