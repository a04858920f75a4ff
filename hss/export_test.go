package hss

// Test helpers and internals for the external tests (package hss_test), which may import package
// hsstest; the internal tests may not (an import cycle).
var (
	SeededRNG          = testRNG
	ShareFor           = shareFor
	NewNLRNG           = newNLRNG
	ViewSchedule       = viewSchedule
	DecodeViewSchedule = decodeViewSchedule
	SMVViewSchedule    = smvViewSchedule
	ScaleViewSchedule  = scaleViewSchedule
)

// PrefillMaxSchedule is what party 1 receives in the first rounds of SoftmaxValues on a prefill's
// untruncated scores: the max tree's levels (heads·pairs differences at ScoreBits), then exp's
// lookup on the nv shifted scores (untruncated, at ScoreBits).
func PrefillMaxSchedule(heads, rows int, fx Fixed) [][][2]int {
	var s [][][2]int
	w := int(ScoreBits(fx))
	for _, pairs := range maxLevels(causalLens(rows, rows, 0)) {
		s = append(s, [][2]int{{heads * pairs, w}})
	}
	es, err := expSpecRaw(fx)
	if err != nil {
		panic(err)
	}
	nv := heads * rows * (rows + 1) / 2
	return append(s, [][2]int{{nv, int(es.openBits())}})
}

// ExpOpenWidths returns the widths at which Exp opens its masked input and its truncation.
// ActTruncWidth is the width at which GeLU's and SiLU's polynomial term is truncated.
func ActTruncWidth(fx Fixed, gelu bool) uint {
	spec := siluSpec
	if gelu {
		spec = geluSpec
	}
	s, err := spec(fx)
	if err != nil {
		panic(err)
	}
	return s.tab.tbits
}

func ExpOpenWidths(fx Fixed) (lookup, trunc uint, err error) {
	es, err := expSpec(fx)
	if err != nil {
		return 0, 0, err
	}
	return es.openBits(), es.tbits, nil
}
