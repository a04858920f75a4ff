package hss

// Exact costs of the gates, without generating material or touching values: for planning, for the
// cost tables of experiments/costs and for the count-only backend of package secure.
//
// Every Cost* function mirrors its gate's Gen and Eval: the widths each opening is packed at (the
// Transport messages are PackBits of the opened vector, one message per party and round), the
// layout of every key (each key's own Size method is called on a shape-only key, or its closed form
// is used where the key would need per-element slices: lutKey, RowMulKey, seqKey framing), and the
// gate's sequence of sub-gates. The tests in cost_test.go compare each function with a real
// Gen/Eval run; a change to a gate that is not mirrored in its Cost* function fails them.
//
// This file holds the Cost and Stage types and the helpers that compose them (keyCost, open, and
// seqStages/seqCost for composite keys); every gate's Cost* function sits in the gate's own file,
// next to its Gen and Eval.

// Cost is the cost of one gate or of a sequence of gates.
type Cost struct {
	// Online is the number of bytes both parties send together (the sum of the BytesSent of their
	// transports' Stats).
	Online int64 `json:"online_bytes"`
	// Rounds is the number of Exchange calls of each party (the same for both).
	Rounds int64 `json:"rounds"`
	// Dealer is the size of both parties' keys together (Σ Key.Size, what dealer.Dealer.Bytes
	// reports): Dealer0 + Dealer1.
	Dealer int64 `json:"dealer_bytes"`
	// Dealer0 and Dealer1 are the sizes of party 0's and party 1's keys (party 0's are mostly
	// seeds: see the key types).
	Dealer0 int64 `json:"dealer_bytes_party0"`
	Dealer1 int64 `json:"dealer_bytes_party1"`
}

// Add returns c + o.
func (c Cost) Add(o Cost) Cost {
	return Cost{Online: c.Online + o.Online, Rounds: c.Rounds + o.Rounds, Dealer: c.Dealer + o.Dealer,
		Dealer0: c.Dealer0 + o.Dealer0, Dealer1: c.Dealer1 + o.Dealer1}
}

// Scale returns c with every field multiplied by k.
func (c Cost) Scale(k int64) Cost {
	return Cost{Online: c.Online * k, Rounds: c.Rounds * k, Dealer: c.Dealer * k, Dealer0: c.Dealer0 * k,
		Dealer1: c.Dealer1 * k}
}

// Div returns c with every field divided by k (k > 0), each rounded toward zero on its own: a mean
// of costs, whose Dealer may exceed Dealer0 + Dealer1 by one.
func (c Cost) Div(k int64) Cost {
	return Cost{Online: c.Online / k, Rounds: c.Rounds / k, Dealer: c.Dealer / k, Dealer0: c.Dealer0 / k,
		Dealer1: c.Dealer1 / k}
}

// keyCost is the dealer cost of one key per party, of k0 and k1 bytes.
func keyCost(k0, k1 int) Cost {
	return Cost{Dealer: int64(k0 + k1), Dealer0: int64(k0), Dealer1: int64(k1)}
}

// KeyCost is the dealer cost of a pair of keys (k0 party 0's, k1 party 1's), as the Cost functions
// count it.
func KeyCost(k0, k1 Key) Cost { return keyCost(k0.Size(), k1.Size()) }

// open is the cost of one OpenBits/ExchangeBits of n values at width bits: one round, each party
// sending PackedLen(n, bits) bytes.
func open(n int, bits uint) Cost {
	return Cost{Online: 2 * int64(PackedLen(n, bits)), Rounds: 1}
}

// part is one key of a composite (seqKey or FxKey) with its kind; label names it in a stage
// breakdown (the kind if empty) and sub, if set, is its own stages (a composite inside a composite),
// whose costs add up to c.
type part struct {
	kind  string
	c     Cost
	label string
	sub   []Stage
}

// Stage is one step of a gate (a sub-gate, or a group of sub-gates that share their rounds) in a
// cost breakdown: its name, its cost, and Crit, the number of its rounds on the critical path of the
// gate (rounds that cannot overlap with the gate's other stages). Every stage of a gate today opens its
// own rounds after the previous stage's, so Crit equals Rounds; a stage whose openings ride on
// another stage's exchanges would show Rounds > Crit. A gate's stages add up to its Cost (framing
// bytes of composite keys are counted in the stage of the part they frame).
type Stage struct {
	Name string `json:"stage"`
	Cost
	Crit int64 `json:"critical_rounds"`
}

// stage is a single-stage breakdown of c.
func stage(name string, c Cost) []Stage { return []Stage{{Name: name, Cost: c, Crit: c.Rounds}} }

// SumStages is the total cost of a breakdown.
func SumStages(st []Stage) Cost {
	var c Cost
	for _, s := range st {
		c = c.Add(s.Cost)
	}
	return c
}

// seqStages is seqCost by stage: the header bytes go with the first stage, each part's framing with
// its (first) stage; a nested part's stages are named label/stage.
func seqStages(name string, parts ...part) []Stage {
	hdr := keyCost(5, 5)
	if len(parts) == 0 {
		return []Stage{{Name: name, Cost: hdr}}
	}
	var out []Stage
	for i, p := range parts {
		f := 1 + len(p.kind) + 4
		fr := keyCost(f, f)
		if i == 0 {
			fr = fr.Add(hdr)
		}
		label := p.label
		if label == "" {
			label = p.kind
		}
		subs := stage(label, p.c)
		if p.sub != nil {
			subs = make([]Stage, len(p.sub))
			for j, s := range p.sub {
				s.Name = label + "/" + s.Name
				subs[j] = s
			}
		}
		subs[0].Cost = subs[0].Cost.Add(fr)
		out = append(out, subs...)
	}
	return out
}

// seqCost composes a seqKey's parts: 5 header bytes per party and, per part, its kind with a one-byte
// length and a four-byte size.
func seqCost(parts ...part) Cost { return SumStages(seqStages("", parts...)) }
