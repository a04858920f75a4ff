// Package ring holds the pure-Go CPU implementation of the ring matrix product used by hssee's
// linear layers: dst = x·wᵀ mod 2^64 for a shared activation x [m][k] (uint64 ring elements) and
// public fixed-point weights w [n][k] (int64 values stored as their uint64 two's complement).
// Reference is the plain triple loop that serves as oracle and baseline; CPU is the parallel,
// register-blocked backend. Package kernel wraps it behind its Backend interface.
package ring
