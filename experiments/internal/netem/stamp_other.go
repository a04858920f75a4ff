//go:build !linux

package netem

import (
	"net"
	"time"
)

// stampReader stamps each read with the time it returned (kernel receive
// timestamps are only used on Linux).
type stampReader struct{ c *net.TCPConn }

func newStampReader(c *net.TCPConn) *stampReader { return &stampReader{c: c} }

func (r *stampReader) read(b []byte) (int, time.Time, error) {
	n, err := r.c.Read(b)
	return n, time.Now(), err
}
