// Package waitfor polls a condition until it holds, for tests that wait on
// servers and goroutines (sessions freed, links drained).
package waitfor

import "time"

// Until calls cond every interval until it reports true or timeout has
// passed, and reports whether it held.
func Until(timeout, interval time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(interval)
	}
	return true
}
