// Package proto holds the wire definitions of an HSS-EE deployment
// (hssee.proto) and, in hsseepb, the code generated from them. Only party/
// and cmd/ import it.
//
//go:generate sh generate.sh
package proto
