package main

import (
	"math"
	"math/rand/v2"
	"slices"
)

// bigramLM is the attacker's language model, trained on the public corpus:
// logP[a*V+b] = log P(b | a), interpolated with the unigram distribution
// (P(b|a) = (c(a,b) + β·P(b)) / (c(a) + β)), and the unigram counts.
type bigramLM struct {
	V    int
	logP []float32
	uni  []float64
}

func trainLM(seqs [][]int, V int, beta float64) *bigramLM {
	uni := make([]float64, V)
	big := make([]float64, V*V)
	row := make([]float64, V)
	for _, s := range seqs {
		for i, t := range s {
			uni[t]++
			if i > 0 {
				big[s[i-1]*V+t]++
				row[s[i-1]]++
			}
		}
	}
	var n float64
	for _, c := range uni {
		n += c
	}
	pu := make([]float64, V)
	for t, c := range uni {
		pu[t] = (c + 0.5) / (n + 0.5*float64(V))
	}
	lm := &bigramLM{V: V, logP: make([]float32, V*V), uni: uni}
	for a := range V {
		for b := range V {
			lm.logP[a*V+b] = float32(math.Log((big[a*V+b] + beta*pu[b]) / (row[a] + beta)))
		}
	}
	return lm
}

// edge is a bigram of cipher tokens with its count.
type edge struct {
	to, n int
}

// observation is what the server saw: cipher-token counts and bigram counts.
type observation struct {
	V       int
	uni     []int
	out, in [][]edge // out[x]: bigrams (x, y); in[x]: bigrams (w, x)
}

func observe(seqs [][]int, V int) *observation {
	o := &observation{V: V, uni: make([]int, V), out: make([][]edge, V), in: make([][]edge, V)}
	counts := map[[2]int]int{}
	for _, s := range seqs {
		for i, t := range s {
			o.uni[t]++
			if i > 0 {
				counts[[2]int{s[i-1], t}]++
			}
		}
	}
	keys := make([][2]int, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b [2]int) int {
		if a[0] != b[0] {
			return a[0] - b[0]
		}
		return a[1] - b[1]
	})
	for _, k := range keys {
		c := counts[k]
		o.out[k[0]] = append(o.out[k[0]], edge{k[1], c})
		o.in[k[1]] = append(o.in[k[1]], edge{k[0], c})
	}
	return o
}

// frequencyGuess maps cipher tokens to plain tokens by rank: the i-th most
// frequent cipher token is guessed to be the i-th most frequent plain token
// of the public corpus (ties broken by id, unobserved tokens last).
func frequencyGuess(o *observation, lm *bigramLM) []int {
	V := o.V
	cr, pr := o.byCount(), lm.byFrequency(V)
	m := make([]int, V)
	for i := range V {
		m[cr[i]] = pr[i]
	}
	return m
}

// byCount returns the cipher tokens 0..V-1 by observed count, most frequent first (ties broken by
// id).
func (o *observation) byCount() []int {
	r := make([]int, o.V)
	for i := range r {
		r[i] = i
	}
	slices.SortStableFunc(r, func(a, b int) int { return o.uni[b] - o.uni[a] })
	return r
}

// byFrequency returns the tokens 0..V-1 by public-corpus frequency, most frequent first (ties broken
// by id).
func (lm *bigramLM) byFrequency(V int) []int {
	r := make([]int, V)
	for i := range r {
		r[i] = i
	}
	slices.SortStableFunc(r, func(a, b int) int {
		switch {
		case lm.uni[a] > lm.uni[b]:
			return -1
		case lm.uni[a] < lm.uni[b]:
			return 1
		}
		return 0
	})
	return r
}

// hillClimb improves the mapping m (cipher → plain, a permutation) by
// swapping the plain tokens of two cipher tokens when that raises the
// bigram log-likelihood of the observed stream, Σ c(x,y)·log P(m(y)|m(x)).
// Proposals pair an observed cipher token with one whose current guess is
// near it in public-frequency rank (most of the time) or any token.
func hillClimb(o *observation, lm *bigramLM, m []int, iters int, seed uint64, t0 float64) []int {
	return climb(o, lm, m, nil, iters, seed, t0)
}

// decipher is the attack: the frequency guess, then annealed hill climbing
// on the most frequent cipher tokens first (their bigrams are dense, so the
// score is reliable), widening the active set until it covers every
// observed token.
func decipher(o *observation, lm *bigramLM, iters int, seed uint64) []int {
	m := frequencyGuess(o, lm)
	byCount := o.byCount()
	active := make([]bool, o.V)
	lo := 0
	for k := 64; ; k *= 2 {
		k = min(k, o.V)
		for _, x := range byCount[lo:k] {
			active[x] = o.uni[x] > 0
		}
		lo = k
		m = climb(o, lm, m, active, iters, seed+uint64(k), 1)
		if k == o.V {
			return m
		}
	}
}

// climb is hillClimb restricted to the active cipher tokens (nil: all):
// only they are moved and only bigrams between them are scored.
func climb(o *observation, lm *bigramLM, m []int, active []bool, iters int, seed uint64, t0 float64) []int {
	V := o.V
	m = slices.Clone(m)
	r := rand.New(rand.NewPCG(seed, 0xa77ac4))
	var seen []int
	for x, c := range o.uni {
		if c > 0 && (active == nil || active[x]) {
			seen = append(seen, x)
		}
	}
	on := func(x int) bool { return active == nil || active[x] }
	if len(seen) == 0 {
		return m
	}
	// rank of each plain token in the public corpus, and the inverse of m.
	byRank := lm.byFrequency(V)
	rank := make([]int, V)
	for i, t := range byRank {
		rank[t] = i
	}
	inv := make([]int, V)
	for x, p := range m {
		inv[p] = x
	}
	L := lm.logP
	local := func(x, y int) float64 {
		var s float64
		for _, e := range o.out[x] {
			if on(e.to) {
				s += float64(e.n) * float64(L[m[x]*V+m[e.to]])
			}
		}
		for _, e := range o.in[x] {
			if e.to != x && on(e.to) {
				s += float64(e.n) * float64(L[m[e.to]*V+m[x]])
			}
		}
		if y == x {
			return s
		}
		for _, e := range o.out[y] {
			if e.to != x && on(e.to) {
				s += float64(e.n) * float64(L[m[y]*V+m[e.to]])
			}
		}
		for _, e := range o.in[y] {
			if e.to != x && e.to != y && on(e.to) {
				s += float64(e.n) * float64(L[m[e.to]*V+m[y]])
			}
		}
		return s
	}
	const window = 24
	for it := range iters {
		// Simulated annealing: accept a worse swap with probability
		// exp(Δ/T), T falling linearly from t0 to 0 (t0 = 0: pure climbing).
		temp := t0 * float64(iters-it) / float64(iters)
		x := seen[r.IntN(len(seen))]
		var y int
		if r.IntN(4) != 0 {
			k := rank[m[x]] + r.IntN(2*window+1) - window
			if k < 0 || k >= V {
				continue
			}
			y = inv[byRank[k]]
		} else {
			y = seen[r.IntN(len(seen))]
		}
		if y == x {
			continue
		}
		before := local(x, y)
		m[x], m[y] = m[y], m[x]
		if d := local(x, y) - before; d > 0 || (temp > 0 && r.Float64() < math.Exp(d/temp)) {
			inv[m[x]], inv[m[y]] = x, y
		} else {
			m[x], m[y] = m[y], m[x]
		}
	}
	return m
}

// recovered returns the fraction of observed token occurrences whose plain
// token the mapping gets right (truth[x] is the real plain token of cipher
// token x), and the fraction of observed distinct tokens.
func recovered(o *observation, m, truth []int) (occ, types float64) {
	var good, total, gt, nt int
	for x, c := range o.uni {
		if c == 0 {
			continue
		}
		total += c
		nt++
		if m[x] == truth[x] {
			good += c
			gt++
		}
	}
	if total == 0 {
		return 0, 0
	}
	return float64(good) / float64(total), float64(gt) / float64(nt)
}

// encryptAll maps every sequence through enc (plain id → cipher id).
func encryptAll(seqs [][]int, enc func([]int) ([]int, error)) ([][]int, error) {
	out := make([][]int, len(seqs))
	for i, s := range seqs {
		var err error
		if out[i], err = enc(s); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// takeTokens returns the first sequences of seqs holding about n tokens
// (whole sequences; the last is cut).
func takeTokens(seqs [][]int, n int) [][]int {
	var out [][]int
	for _, s := range seqs {
		if n <= 0 {
			break
		}
		if len(s) > n {
			s = s[:n]
		}
		out = append(out, s)
		n -= len(s)
	}
	return out
}

// refine improves the mapping m by rounds of linearised reassignment: with
// every other token's guess fixed, the score of guessing plain token p for
// cipher token x is the bigram log-likelihood of x's observed contexts,
// Σ_y c(x,y)·log P(m(y)|p) + Σ_w c(w,x)·log P(p|m(w)), plus the Poisson
// log-likelihood of x's count under p's public frequency; cipher tokens,
// most frequent first, then take their best plain token still free.
func refine(o *observation, lm *bigramLM, m []int, rounds int) []int {
	V := o.V
	m = slices.Clone(m)
	var seen []int
	var N float64
	for x, c := range o.uni {
		if c > 0 {
			seen = append(seen, x)
			N += float64(c)
		}
	}
	slices.SortStableFunc(seen, func(a, b int) int { return o.uni[b] - o.uni[a] })
	var npub float64
	for _, c := range lm.uni {
		npub += c
	}
	expect, logExpect := make([]float64, V), make([]float64, V)
	for p, c := range lm.uni {
		expect[p] = N * (c + 0.5) / (npub + 0.5*float64(V))
		logExpect[p] = math.Log(expect[p])
	}
	L := lm.logP
	S := make([]float64, V)
	used := make([]bool, V)
	next := make([]int, V)
	for range rounds {
		clear(used)
		for i := range next {
			next[i] = -1
		}
		for _, x := range seen {
			c := float64(o.uni[x])
			for p := range V {
				S[p] = c*logExpect[p] - expect[p]
			}
			for _, e := range o.out[x] {
				n, q := float64(e.n), m[e.to]
				for p := range V {
					S[p] += n * float64(L[p*V+q])
				}
			}
			for _, e := range o.in[x] {
				n, row := float64(e.n), L[m[e.to]*V:m[e.to]*V+V]
				for p, l := range row {
					S[p] += n * float64(l)
				}
			}
			best, bs := -1, math.Inf(-1)
			for p, s := range S {
				if !used[p] && s > bs {
					best, bs = p, s
				}
			}
			next[x], used[best] = best, true
		}
		p := 0
		for x := range V {
			if next[x] >= 0 {
				continue
			}
			for used[p] {
				p++
			}
			next[x], used[p] = p, true
		}
		copy(m, next)
	}
	return m
}
