// Package netem is a small userspace network link emulator for the
// experiments: a TCP proxy on loopback that adds a one-way propagation delay
// and a bandwidth limit to each direction of every connection it forwards.
// It stands in for tc/netem, which the experiment machines do not have.
//
//	p, err := netem.Symmetric("127.0.0.1:0", partyAddr, netem.Link{Delay: time.Millisecond, Bandwidth: 50 * netem.Mbps})
//	// dial p.Addr() instead of partyAddr; p.Close() when done
//
// # Model
//
// A Proxy emulates one path between two hosts with a single bottleneck per
// direction; a Link describes one direction. All connections through one
// Proxy share each direction's bottleneck (a FIFO queue in front of it, like
// one router port), so two bulk transfers through one Proxy split its
// bandwidth.
//
// Bytes enter the link in the order they are read from the sending socket.
// A segment of n bytes that arrived at time t occupies the bottleneck for
// n*8/Bandwidth seconds from when the bottleneck is free, then propagates for
// Delay:
//
//	start      = max(t, linkFreeAt)
//	linkFreeAt = start + n*8/Bandwidth
//	due        = linkFreeAt + Delay
//
// Delay is a propagation delay, not a per-write sleep: a reader goroutine
// queues segments with their due times and a writer goroutine writes each
// one out when it is due, so a stream of small writes is pipelined (writes
// spaced 1 ms apart arrive 1 ms apart, Delay later) and a bulk transfer of B
// bytes takes B*8/Bandwidth + Delay. Bandwidth 0 is unlimited (due = t +
// Delay).
//
// Details:
//
//   - The arrival time t is the kernel's receive timestamp of the bytes
//     (SO_TIMESTAMPNS, Linux), not the time the proxy's reader woke up, so
//     the proxy's own wake-up latency is not added to the delay; elsewhere, or
//     if the timestamp is missing, it is the time the read returned.
//   - Reads are cut into segments of about 500 µs of serialisation time (at
//     least 1 KiB, at most 64 KiB) so that the first bytes of a large read are
//     not held back until the whole read is serialised. Segments due together
//     are written with one system call. Bytes are never written before their
//     due time.
//   - End of stream propagates: EOF from one side becomes CloseWrite on the
//     other side, after the same delay as the data before it (a FIN travels
//     the path too). A read or write error closes both connections of the
//     pair; so does the end of both directions.
//   - Memory is bounded: at most Link.Buffer bytes per connection and
//     direction are between the proxy's read and its write (default
//     max(2 × bandwidth-delay product, 4 MiB)). When that is full the proxy
//     stops reading, the socket buffers fill and TCP flow control pushes back
//     on the sender. With unlimited bandwidth this caps one connection at
//     Buffer/Delay (4 MiB / 5 ms = 800 MiB/s).
//
// # What it does not emulate
//
// There is no packet loss, no jitter, no reordering and no duplication, and
// the queue in front of the bottleneck never drops: it grows until Buffer is
// reached and then blocks the sender. The real TCP connections on both sides
// of the proxy run over loopback, so TCP's congestion control never sees the
// emulated path: no slow start over the emulated RTT, no congestion window
// limited by the emulated bandwidth-delay product, no interaction between
// congestion control and a real queue. Transfer times are those of a sender
// whose window already covers the path (bytes*8/Bandwidth + Delay), the lower
// bound a real network approaches after slow start; short flows on a real WAN
// are slower. Nor are per-packet header overheads modelled: Bandwidth is
// goodput of the TCP payload.
//
// # Timing accuracy
//
// Go's timers on Linux wait in the network poller with millisecond
// granularity (a 50 µs time.Sleep takes about 1.05 ms here). The writer
// therefore waits with a timer only for the part of a wait beyond a few
// milliseconds, then blocks its thread in nanosleep(2), with the thread's
// timer slack set to 1 ns, until shortly before the due time, and spins
// (runtime.Gosched) for the rest. The spin lead tracks a high quantile of
// the observed nanosleep overshoot, within [5 µs, 100 µs]. Stats reports the
// writes' lateness (mean and maximum).
//
// Measured with BenchmarkDelay (1000 one-byte ping-pongs through a
// symmetric link) on the 2-core shared development VM, several runs; the
// one-way error is RTT/2 − Delay:
//
//	one-way Delay          0.25 ms    1 ms       5 ms
//	error, median          33–82 µs   43–100 µs  86–118 µs
//	  of which: client wake-up after the reply reached its socket
//	                       30–44 µs   57–77 µs   50–58 µs
//	  proxy write lateness, median   < 2 µs (p99 0.05–1 ms: VM preemption)
//	direct loopback one-way (no proxy, hot): 8–14 µs
//
// The median error is mostly the endpoints waking up from idle (which grows
// with the idle time between messages and which a real network has too) plus
// the extra loopback hop through the proxy (about 10–40 µs); the proxy's own
// timer error is negligible at the median, and the tail is the host's
// scheduling. Experiments should report the RTT they measure through the
// proxy next to the nominal one.
//
// Throughput (BenchmarkThroughput, 4 MiB writes, 1 ms delay): 49.8–50.0
// Mbit/s at 50 Mbit/s and 960–993 Mbit/s at 1 Gbit/s (0.96–0.99 of the link,
// the shortfall being the start-up and the final delay). A bulk transfer
// costs CPU for every delivered segment (a thread wake-up, a short spin, a
// write): the whole benchmark process (sender, proxy, sink) used about a
// quarter of a core at 50 Mbit/s and half a core at 1 Gbit/s on this VM.
//
// Only loopback use is intended: the experiments listen on and dial
// 127.0.0.1.
package netem
