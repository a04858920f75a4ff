package secure

// PlanPass is pass k (rows, first position) of the fixed plan that a
// session with the dealer service follows: pass 0 is the prefill of first
// rows at position 0 (first > 0), every later pass one row at the next
// position. The dealer walks it ahead of the parties, and the parties and
// the client check every pass against it.
func PlanPass(first int, k uint64) (rows, pos0 int) {
	if k == 0 {
		return first, 0
	}
	return 1, first + int(k) - 1
}
