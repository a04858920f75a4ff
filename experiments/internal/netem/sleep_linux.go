package netem

import (
	"time"

	"golang.org/x/sys/unix"
)

// preciseSleep blocks the calling thread for d with nanosleep(2). The
// thread's timer slack is set to 1 ns first (the default 50 µs would add up
// to 50 µs to every wake-up); that only makes later timed waits of the same
// thread more precise.
func preciseSleep(d time.Duration) {
	if d <= 0 {
		return
	}
	_ = unix.Prctl(unix.PR_SET_TIMERSLACK, 1, 0, 0, 0)
	ts := unix.NsecToTimespec(int64(d))
	for unix.Nanosleep(&ts, &ts) == unix.EINTR {
	}
}
