//go:build !linux

package netem

import "time"

// preciseSleep falls back to time.Sleep where nanosleep is not used; the
// spinning stage then absorbs less of the overshoot.
func preciseSleep(d time.Duration) {
	time.Sleep(d)
}
