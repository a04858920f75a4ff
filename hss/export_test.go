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
)

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
