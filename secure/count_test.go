package secure

import (
	"testing"

	"github.com/hssee/hssee/hss"
	"github.com/hssee/hssee/model"
)

// BenchmarkCountLarge: counting llama2-7b at 512 tokens and two decode
// steps, the exact cost model's speed.
func BenchmarkCountLarge(b *testing.B) {
	cfg, err := model.PresetConfig("llama2-7b")
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := Count(cfg, hss.DefaultParams(), 512, 2); err != nil {
			b.Fatal(err)
		}
	}
}

// TestCountLarge counts llama2-7b at 512 tokens and checks the structure
// of the breakdown (how long counting takes is BenchmarkCountLarge's). Exactness against measured costs
// is infer's TestCountMatchesMeasured.
func TestCountLarge(t *testing.T) {
	cfg, err := model.PresetConfig("llama2-7b")
	if err != nil {
		t.Fatal(err)
	}
	r, err := Count(cfg, hss.DefaultParams(), 512, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Decode) != 2 {
		t.Fatalf("%d decode steps", len(r.Decode))
	}
	for _, b := range append([]Breakdown{r.Prefill}, r.Decode...) {
		var sum hss.Cost
		for o, c := range b.Ops {
			if Op(o) == OpMul && c == (hss.Cost{}) {
				continue // SwiGLU's product is fused into its activation (hss.SiLUMul)
			}
			if Op(o) == OpRope && c == (hss.Cost{}) {
				continue // checked below
			}
			if Op(o) == OpLinear && c == (hss.Cost{}) {
				continue // Wo's and W2's truncations ride on the next RMSNorm's squares (hss.RMSNormRes)
			}
			// Party 0 may hold more than party 1 (the lookups' level-Top nodes: hss's lookupSeeded).
			if c.Rounds <= 0 || c.Online <= 0 || c.Dealer <= 0 || c.Dealer0 <= 0 || c.Dealer1 <= 0 || c.Dealer0+c.Dealer1 != c.Dealer {
				t.Errorf("%v: %+v", Op(o), c)
			}
			sum = sum.Add(c)
		}
		if sum != b.Total {
			t.Errorf("breakdown sums to %+v, total %+v", sum, b.Total)
		}
		// The stages add up to their Ops, and their critical rounds to the pass's rounds.
		var ops [NumOps]hss.Cost
		var crit int64
		for _, s := range b.Stages {
			if s.Calls <= 0 || s.Crit != s.Rounds {
				t.Errorf("stage %s: %+v", s.Key(), s)
			}
			ops[s.Op] = ops[s.Op].Add(s.Cost)
			crit += s.Crit
		}
		if ops != b.Ops || crit != b.Total.Rounds {
			t.Errorf("stages sum to %+v (critical path %d), ops %+v (rounds %d)", ops, crit, b.Ops, b.Total.Rounds)
		}
		// One head round; RoPE's truncation rides on the scores' round (AttendScoresTrunc).
		if b.Ops[OpHead].Rounds != 1 || b.Ops[OpRope] != (hss.Cost{}) {
			t.Errorf("head %d, rope %d rounds", b.Ops[OpHead].Rounds, b.Ops[OpRope].Rounds)
		}
	}
	m := r.DecodeMean()
	if m.Total.Rounds != (r.Decode[0].Total.Rounds+r.Decode[1].Total.Rounds)/2 {
		t.Errorf("mean rounds %d", m.Total.Rounds)
	}
}

func TestCountErrors(t *testing.T) {
	cfg, _ := model.PresetConfig("stories15M")
	for _, c := range []struct{ prompt, decode int }{{0, 1}, {1, -1}, {256, 1}} {
		if _, err := Count(cfg, hss.DefaultParams(), c.prompt, c.decode); err == nil {
			t.Errorf("prompt %d decode %d: no error", c.prompt, c.decode)
		}
	}
	if _, err := Count(cfg, hss.Params{Frac: 20, Width: 64}, 4, 0); err == nil {
		t.Error("frac 20 (beyond the norms' range): no error")
	}
	if _, err := ShapeModel(model.Config{}); err == nil {
		t.Error("invalid config: no error")
	}
}

// TestSettleRaw: the untruncated product of Mul goes to Linear as it is (no truncation of its own),
// and any other step truncates it first (one Trunc round).
func TestSettleRaw(t *testing.T) {
	cfg, _ := model.PresetConfig("stories15M")
	ctr := &Counter{}
	e, err := NewExec(cfg, hss.DefaultParams(), nil, ctr, 8)
	if err != nil {
		t.Fatal(err)
	}
	h := Tensor{Rows: 1, Cols: cfg.HiddenDim}
	g, err := e.Mul(h, h, 1)
	if err != nil || !g.Raw || ctr.Cost.Total.Rounds != 1 {
		t.Fatalf("mul: %v, raw %v, %d rounds", err, g.Raw, ctr.Cost.Total.Rounds)
	}
	y, err := e.Linear(g, &model.Linear{Out: cfg.Dim, In: cfg.HiddenDim}, 1)
	if err != nil || !y.Raw || y.lin == nil || ctr.Cost.Total.Rounds != 1 {
		t.Fatalf("linear: %v, raw %v, %d rounds", err, y.Raw, ctr.Cost.Total.Rounds)
	}
	// Deferred (AddInto may hand its truncation to RMSNorm); any step settles it as Linear did.
	if err := e.settle(&y); err != nil || y.Raw || y.lin != nil || ctr.Cost.Ops[OpLinear].Rounds != 1 || ctr.Cost.Total.Rounds != 2 {
		t.Fatalf("linear settled: %v, raw %v, %d rounds", err, y.Raw, ctr.Cost.Total.Rounds)
	}
	a, err := e.Act(g, 1) // deferred (SiLU waits for its product)
	if err != nil || ctr.Cost.Total.Rounds != 2 {
		t.Fatalf("act: %v, %d rounds", err, ctr.Cost.Total.Rounds)
	}
	// Any step but Mul settles it: g's truncation, then the activation's 2 rounds.
	if err := e.settle(&a); err != nil || a.Raw || a.silu != nil || ctr.Cost.Ops[OpRope].Rounds != 1 ||
		ctr.Cost.Total.Rounds != 5 {
		t.Fatalf("act settled: %v, raw %v, %d truncation rounds, %d in all", err, a.Raw, ctr.Cost.Ops[OpRope].Rounds, ctr.Cost.Total.Rounds)
	}
}

// TestResidualToNorm: AddInto of a linear layer's output (a group of one, or a linear layer of an
// untruncated product) leaves the truncation pending; RMSNorm takes it into its squares' round (5
// rounds, no linear truncation), the next AddInto finds the sum, and Rows keeps it pending on the rows
// taken. Any other step truncates and adds first (the linear layer's round).
func TestResidualToNorm(t *testing.T) {
	cfg, _ := model.PresetConfig("stories15M")
	n := &model.Norm{}
	for _, wide := range []bool{false, true} {
		ctr := &Counter{}
		e, err := NewExec(cfg, hss.DefaultParams(), nil, ctr, 8)
		if err != nil {
			t.Fatal(err)
		}
		x := Tensor{Rows: 3, Cols: cfg.Dim}
		in := Tensor{Rows: 3, Cols: cfg.Dim}
		l := &model.Linear{Out: cfg.Dim, In: cfg.Dim}
		if wide {
			in = Tensor{Rows: 3, Cols: cfg.HiddenDim, Raw: true}
			l = &model.Linear{Out: cfg.Dim, In: cfg.HiddenDim}
		}
		y, err := e.Linear(in, l, 3)
		if err != nil {
			t.Fatal(err)
		}
		x, err = e.AddInto(x, y)
		if err != nil || x.res == nil || (x.res.shift != 0) != wide || ctr.Cost.Total.Rounds != 0 {
			t.Fatalf("wide %v: add: %v, pending %v, %d rounds", wide, err, x.res != nil, ctr.Cost.Total.Rounds)
		}
		last, err := e.Rows(x, 2, 1, cfg.Dim)
		if err != nil || last.res == nil || last.res.acc.Rows != 1 || last.res.t.Rows != 1 || ctr.Cost.Total.Rounds != 0 {
			t.Fatalf("wide %v: rows: %v, %d rounds", wide, err, ctr.Cost.Total.Rounds)
		}
		h, err := e.Norm(x, n, 3)
		if err != nil || h.nrm == nil || ctr.Cost.Total.Rounds != 0 {
			t.Fatalf("wide %v: norm: %v, pending %v, %d rounds", wide, err, h.nrm != nil, ctr.Cost.Total.Rounds)
		}
		if err := e.settle(&h); err != nil || ctr.Cost.Ops[OpNorm].Rounds != 5 || ctr.Cost.Total.Rounds != 5 {
			t.Fatalf("wide %v: norm: %v, %d norm rounds, %d in all", wide, err, ctr.Cost.Ops[OpNorm].Rounds, ctr.Cost.Total.Rounds)
		}
		if x, err = e.AddInto(x, x); err != nil || x.res != nil || ctr.Cost.Total.Rounds != 5 {
			t.Fatalf("wide %v: add after the norm: %v, %d rounds", wide, err, ctr.Cost.Total.Rounds)
		}
		// The rows taken before the norm are still pending: a step that is not RMSNorm settles them.
		if _, err := e.Head(last, 1); err != nil || ctr.Cost.Total.Rounds != 7 {
			t.Fatalf("wide %v: head: %v, %d rounds", wide, err, ctr.Cost.Total.Rounds)
		}
	}
}

// countExec is an executor of preset name's config over a fresh Counter, for 8 positions.
func countExec(t *testing.T, name string) (model.Config, *Exec, *Counter) {
	t.Helper()
	cfg, err := model.PresetConfig(name)
	if err != nil {
		t.Fatal(err)
	}
	ctr := &Counter{}
	e, err := NewExec(cfg, hss.DefaultParams(), nil, ctr, 8)
	if err != nil {
		t.Fatal(err)
	}
	return cfg, e, ctr
}

// TestNormRawConsumers: Norm waits for its consumer. The FFN's up projections (SwiGLU's two, GPT-2's
// one) and the LM head read its raw output (hss.NormRaw, 4 rounds) and the activation (or the head)
// takes the truncation: SiLUMulRaw or GeLURaw in their 2 rounds, the head in its one, no round of
// the norm's output truncation and none of a linear layer's. Q, K and V (three layers) get the norm
// as before (5 rounds); a raw projection used otherwise is truncated once (OpLinear).
func TestNormRawConsumers(t *testing.T) {
	for _, name := range []string{"stories15M", "gpt2-124m"} {
		cfg, e, ctr := countExec(t, name)
		D, H, KV := cfg.Dim, cfg.HiddenDim, cfg.KVDim()
		n := &model.Norm{}
		x := Tensor{Rows: 2, Cols: D}
		lin := func(out int) *model.Linear { return &model.Linear{Out: out, In: D} }
		h, err := e.Norm(x, n, 2)
		if err != nil || h.nrm == nil || ctr.Cost.Total.Rounds != 0 {
			t.Fatalf("%s: norm: %v, %d rounds", name, err, ctr.Cost.Total.Rounds)
		}
		var out Tensor
		if cfg.Arch == model.ArchLlama {
			gu, err := e.Linears(h, [3]*model.Linear{lin(H), lin(H)}, 2)
			if err != nil || ctr.Cost.Total.Rounds != 4 || gu[0].grp == nil || gu[0].grp.shift != hss.NormRawFrac(e.fx) {
				t.Fatalf("%s: linears: %v, %d rounds", name, err, ctr.Cost.Total.Rounds)
			}
			a, err := e.Act(gu[0], 2)
			if err != nil {
				t.Fatal(err)
			}
			out, err = e.Mul(a, gu[1], 2)
			if err != nil {
				t.Fatal(err)
			}
		} else {
			y, err := e.Linear(h, lin(H), 2)
			if err != nil || ctr.Cost.Total.Rounds != 4 || !y.Raw {
				t.Fatalf("%s: linear: %v, %d rounds", name, err, ctr.Cost.Total.Rounds)
			}
			if out, err = e.Act(y, 2); err != nil {
				t.Fatal(err)
			}
		}
		if out.Rows != 2 || out.Cols != H || ctr.Cost.Ops[OpNorm].Rounds != 4 || ctr.Cost.Ops[OpAct].Rounds != 2 || ctr.Cost.Ops[OpLinear].Rounds != 0 || ctr.Cost.Total.Rounds != 6 {
			t.Fatalf("%s: ffn: %d norm rounds, %d act, %d linear, %d in all", name, ctr.Cost.Ops[OpNorm].Rounds, ctr.Cost.Ops[OpAct].Rounds, ctr.Cost.Ops[OpLinear].Rounds, ctr.Cost.Total.Rounds)
		}
		// The head: NormRaw and the head's own truncation.
		before := ctr.Cost.Total.Rounds
		if h, err = e.Norm(x, n, 2); err != nil {
			t.Fatal(err)
		}
		if y, err := e.Head(h, 2); err != nil || y.Cols != cfg.VocabSize || ctr.Cost.Total.Rounds != before+5 {
			t.Fatalf("%s: head: %v, %d rounds", name, err, ctr.Cost.Total.Rounds-before)
		}
		// Q, K, V: the norm up to its row factor (no output truncation), then local layers on its
		// input; used other than by Attend, the factor with their truncation, then a truncation.
		before = ctr.Cost.Total.Rounds
		if h, err = e.Norm(x, n, 2); err != nil {
			t.Fatal(err)
		}
		qkv, err := e.Linears(h, [3]*model.Linear{lin(D), lin(KV), lin(KV)}, 2)
		if err != nil || qkv[0].grp.shift != 0 || qkv[0].grp.scale == nil || ctr.Cost.Total.Rounds != before+3 {
			t.Fatalf("%s: qkv: %v, %d rounds", name, err, ctr.Cost.Total.Rounds-before)
		}
		if q := qkv[0]; e.settle(&q) != nil || q.Raw || ctr.Cost.Total.Rounds != before+5 || q.Rows != 2 || q.Cols != D {
			t.Fatalf("%s: settled qkv: %d rounds", name, ctr.Cost.Total.Rounds-before)
		}
		// A raw up projection used otherwise: one truncation by NormRawFrac, booked as a linear layer's.
		if h, err = e.Norm(x, n, 2); err != nil {
			t.Fatal(err)
		}
		gu, err := e.Linears(h, [3]*model.Linear{lin(H)}, 2)
		if err != nil {
			t.Fatal(err)
		}
		before, lr := ctr.Cost.Total.Rounds, ctr.Cost.Ops[OpLinear].Rounds
		g := gu[0]
		if err := e.settle(&g); err != nil || g.Raw || ctr.Cost.Total.Rounds != before+1 || ctr.Cost.Ops[OpLinear].Rounds != lr+1 {
			t.Fatalf("%s: settled projection: %v, %d rounds", name, err, ctr.Cost.Total.Rounds-before)
		}
	}
}

// TestAttendFused: the attention on Rope's pending q, k and v (LLaMA) or a Linears group (GPT-2)
// truncates them in the scores' round: the scores, then the softmax on untruncated scores at
// hss.ScoreBits with the values' product (SoftmaxValues); the projections and the scores cost no
// truncation round of their own, in a prefill as in a decode step.
func TestAttendFused(t *testing.T) {
	for _, name := range []string{"stories15M", "gpt2-124m"} {
		cfg, e, ctr := countExec(t, name)
		D, KV := cfg.Dim, cfg.KVDim()
		lin := func(out int) *model.Linear { return &model.Linear{Out: out, In: D} }
		for pos, rows := range []int{3, 1} {
			pos0 := 3 * pos
			qkv, err := e.Linears(Tensor{Rows: rows, Cols: D}, [3]*model.Linear{lin(D), lin(KV), lin(KV)}, rows)
			if err != nil {
				t.Fatal(err)
			}
			q, k := qkv[0], qkv[1]
			if cfg.Arch == model.ArchLlama {
				if q, k, err = e.Rope(q, k, rows, pos0); err != nil {
					t.Fatal(err)
				}
			}
			before := ctr.Cost
			if _, err := e.Attend(0, q, k, qkv[2], rows, pos0); err != nil {
				t.Fatalf("%s rows %d: %v", name, rows, err)
			}
			attn, rope, sm := ctr.Cost.Ops[OpAttn].Rounds-before.Ops[OpAttn].Rounds, ctr.Cost.Ops[OpRope].Rounds-before.Ops[OpRope].Rounds,
				ctr.Cost.Ops[OpSoftmax].Rounds-before.Ops[OpSoftmax].Rounds
			// The scores with the projections' truncation; the softmax reads them untruncated (a
			// prefill's max tree and exp raw, a decode step's counting max truncating them); the
			// product with the values is the softmax's (SoftmaxValues).
			want := int64(1)
			if attn != want || rope != 0 || ctr.Cost.Ops[OpLinear].Rounds != 0 || sm == 0 {
				t.Fatalf("%s rows %d: attention %d rounds (want %d), rope %d, linear %d", name, rows, attn, want, rope, ctr.Cost.Ops[OpLinear].Rounds)
			}
		}
	}
}

// TestLinearsGroup: Linears is local; the first step that needs an output truncates the whole group
// in one round; Rope folds q's, k's and v's truncation into its own (one round for projections and
// RoPE), after which q and k of the group are spent.
func TestLinearsGroup(t *testing.T) {
	cfg, _ := model.PresetConfig("stories15M")
	ctr := &Counter{}
	e, err := NewExec(cfg, hss.DefaultParams(), nil, ctr, 8)
	if err != nil {
		t.Fatal(err)
	}
	D, H := cfg.Dim, cfg.HiddenDim
	x := Tensor{Rows: 2, Cols: D}
	lin := func(out int) *model.Linear { return &model.Linear{Out: out, In: D} }
	qkv, err := e.Linears(x, [3]*model.Linear{lin(D), lin(cfg.KVDim()), lin(cfg.KVDim())}, 2)
	if err != nil || ctr.Cost.Total.Rounds != 0 {
		t.Fatalf("linears: %v, %d rounds", err, ctr.Cost.Total.Rounds)
	}
	q, k, err := e.Rope(qkv[0], qkv[1], 2, 0)
	if err != nil || q.rope == nil || k.rope != q.rope || ctr.Cost.Total.Rounds != 0 {
		t.Fatalf("rope: %v, %d rounds", err, ctr.Cost.Total.Rounds)
	}
	// Pending for Attend; any other step truncates q, k and v in one round (TruncWide), once.
	v := qkv[2]
	if err := e.settle(&v); err != nil || v.Raw || ctr.Cost.Total.Rounds != 1 || ctr.Cost.Ops[OpRope].Rounds != 1 {
		t.Fatalf("v after rope: %v, raw %v, %d rounds", err, v.Raw, ctr.Cost.Total.Rounds)
	}
	if err := e.settle(&q, &k); err != nil || q.Raw || k.Raw || q.Cols != cfg.Dim || ctr.Cost.Total.Rounds != 1 {
		t.Fatalf("q, k after rope: %v, %d rounds", err, ctr.Cost.Total.Rounds)
	}
	if q2 := qkv[0]; e.settle(&q2) == nil {
		t.Error("q used again after the fused truncation: no error")
	}
	// SwiGLU: SiLU waits, and Mul takes both projections untruncated (SiLUMulRaw: their truncations
	// in SiLU's lookup round, 2 rounds in all, none of them a linear layer's).
	gu, err := e.Linears(x, [3]*model.Linear{lin(H), lin(H)}, 2)
	if err != nil {
		t.Fatal(err)
	}
	a, err := e.Act(gu[0], 2)
	if err != nil {
		t.Fatal(err)
	}
	act := ctr.Cost.Ops[OpAct].Rounds
	z, err := e.Mul(a, gu[1], 2)
	if err != nil || !z.Raw || ctr.Cost.Ops[OpLinear].Rounds != 0 || ctr.Cost.Ops[OpAct].Rounds != act+2 {
		t.Fatalf("swiglu: %v, raw %v, linear rounds %d, act rounds %d", err, z.Raw, ctr.Cost.Ops[OpLinear].Rounds, ctr.Cost.Ops[OpAct].Rounds-act)
	}
	// A projection used otherwise is truncated with its group, once.
	gu, err = e.Linears(x, [3]*model.Linear{lin(H), lin(H)}, 2)
	if err != nil {
		t.Fatal(err)
	}
	u := gu[1]
	if err := e.settle(&u); err != nil || u.Raw || ctr.Cost.Ops[OpLinear].Rounds != 1 {
		t.Fatalf("up: %v, raw %v, linear rounds %d", err, u.Raw, ctr.Cost.Ops[OpLinear].Rounds)
	}
	g := gu[0]
	if err := e.settle(&g); err != nil || g.Raw || ctr.Cost.Ops[OpLinear].Rounds != 1 {
		t.Fatalf("gate: %v, raw %v, linear rounds %d", err, g.Raw, ctr.Cost.Ops[OpLinear].Rounds)
	}
}

// TestLinearGeLU: a linear layer's output waits untruncated; GeLU takes its truncation into its
// lookup's round (GeLURaw, 2 rounds), and any other consumer truncates it (Linear's own round).
func TestLinearGeLU(t *testing.T) {
	cfg, _ := model.PresetConfig("gpt2-124m")
	ctr := &Counter{}
	e, err := NewExec(cfg, hss.DefaultParams(), nil, ctr, 8)
	if err != nil {
		t.Fatal(err)
	}
	x := Tensor{Rows: 1, Cols: cfg.Dim}
	h, err := e.Linear(x, &model.Linear{Out: cfg.HiddenDim, In: cfg.Dim}, 1)
	if err != nil || !h.Raw || ctr.Cost.Total.Rounds != 0 {
		t.Fatalf("linear: %v, raw %v, %d rounds", err, h.Raw, ctr.Cost.Total.Rounds)
	}
	a, err := e.Act(h, 1)
	if err != nil || a.Raw || ctr.Cost.Ops[OpAct].Rounds != 2 || ctr.Cost.Total.Rounds != 2 {
		t.Fatalf("gelu: %v, raw %v, %d act rounds, %d in all", err, a.Raw, ctr.Cost.Ops[OpAct].Rounds, ctr.Cost.Total.Rounds)
	}
	// The residual's addend waits for the next norm (the centred stream, see CenterInput); any other
	// step truncates it (the linear layer's round).
	y, err := e.Linear(x, &model.Linear{Out: cfg.Dim, In: cfg.Dim}, 1)
	if err != nil {
		t.Fatal(err)
	}
	z, err := e.AddInto(x, y)
	if err != nil || z.res == nil || ctr.Cost.Ops[OpLinear].Rounds != 0 {
		t.Fatalf("residual: %v, pending %v, %d linear rounds", err, z.res != nil, ctr.Cost.Ops[OpLinear].Rounds)
	}
	if err := e.settle(&z); err != nil || ctr.Cost.Ops[OpLinear].Rounds != 1 {
		t.Fatalf("residual settled: %v, %d linear rounds", err, ctr.Cost.Ops[OpLinear].Rounds)
	}
}
