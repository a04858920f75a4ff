package ring

// Paths lists the micro-kernel paths this CPU can run; UsePath selects one of them and returns a
// function that restores the previous selection (for the tests here and in package ring_test).
func Paths() []string {
	p := []string{"generic"}
	if hasAVX2 {
		p = append(p, "avx2")
	}
	if has512 {
		p = append(p, "avx512")
	}
	return p
}

func UsePath(name string) (restore func()) {
	saved512, savedAVX2 := use512, useAVX2
	use512, useAVX2 = name == "avx512", name == "avx2"
	return func() { use512, useAVX2 = saved512, savedAVX2 }
}
