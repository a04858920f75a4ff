package netem

import (
	"io"
	"net"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// maxStampAge bounds how much earlier than the read the arrival time can
// be: the reader's wake-up latency is well below it, and bytes that waited
// longer in the socket (the ring was full, or the proxy was descheduled)
// are not pretended to have been on the link meanwhile.
const maxStampAge = time.Millisecond

// stampReader reads from a TCP connection with recvmsg(2) and SO_TIMESTAMPNS,
// so that the arrival time of the bytes is the kernel's receive timestamp of
// the last segment read rather than the time the proxy's reader woke up. On
// loopback that is when the sender wrote them: the proxy's own wake-up
// latency (tens of microseconds from idle) is not added to the emulated
// delay.
type stampReader struct {
	c   *net.TCPConn
	rc  syscall.RawConn // nil: plain reads stamped with time.Now()
	oob []byte
}

func newStampReader(c *net.TCPConn) *stampReader {
	r := &stampReader{c: c}
	rc, err := c.SyscallConn()
	if err != nil {
		return r
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1)
	}); err != nil || serr != nil {
		return r
	}
	r.rc, r.oob = rc, make([]byte, unix.CmsgSpace(int(unsafe.Sizeof(unix.Timespec{}))))
	return r
}

// read reads into b and returns the bytes' arrival time.
func (r *stampReader) read(b []byte) (int, time.Time, error) {
	if r.rc == nil {
		n, err := r.c.Read(b)
		return n, time.Now(), err
	}
	var n, oobn int
	var err error
	rerr := r.rc.Read(func(fd uintptr) bool {
		for {
			n, oobn, _, _, err = unix.Recvmsg(int(fd), b, r.oob, 0)
			if err != unix.EINTR {
				return err != unix.EAGAIN
			}
		}
	})
	now := time.Now()
	switch {
	case rerr != nil:
		return 0, now, rerr
	case err != nil:
		return 0, now, &net.OpError{Op: "read", Net: "tcp", Err: err}
	case n == 0:
		return 0, now, io.EOF
	}
	return n, r.arrival(now, oobn), nil
}

// arrival is the kernel timestamp in the control message, as a time on
// now's monotonic clock, at most maxStampAge before now; now if there is
// none or it is later than now (a wall clock step).
func (r *stampReader) arrival(now time.Time, oobn int) time.Time {
	msgs, err := unix.ParseSocketControlMessage(r.oob[:oobn])
	if err != nil {
		return now
	}
	for _, m := range msgs {
		if m.Header.Level != unix.SOL_SOCKET || m.Header.Type != unix.SO_TIMESTAMPNS ||
			len(m.Data) < int(unsafe.Sizeof(unix.Timespec{})) {
			continue
		}
		ts := (*unix.Timespec)(unsafe.Pointer(&m.Data[0]))
		// time.Unix carries no monotonic reading, so Sub uses wall clocks.
		age := now.Sub(time.Unix(ts.Unix()))
		if age >= 0 {
			return now.Add(-min(age, maxStampAge))
		}
	}
	return now
}
