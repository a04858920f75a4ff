// Command party1 is party 1 of an HSS-EE deployment (or, with -mode ee, a
// single EE server): a thin main over package party. See docs/DEPLOY.md.
//
//	party1 -listen ADDR -model DIR -tls-cert F -tls-key F -tls-ca F [-mode hss|ee]
//	       [-dealer ADDR] [-metrics :9090] [-health :9091] [-max-sessions-per-client 16]
//
// Every flag can also be set by an environment variable: HSSEE_PARTY_ and
// the flag's name in capitals with - as _ (HSSEE_PARTY_TLS_CERT).
package main

import (
	"os"

	"github.com/hssee/hssee/party"
)

func main() { os.Exit(party.Main(1, os.Args[1:], os.Stderr)) }
