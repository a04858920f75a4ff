// Command dealer is the dealer service of a three-host HSS-EE deployment:
// it makes every session's correlated randomness from the model's shape
// alone and streams each party its own share, so the client uploads only
// its input shares. It must collude with neither party. See
// docs/DEPLOY.md and package party/dealersvc.
//
//	dealer -listen :7442 -tls-cert dealer.pem -tls-key dealer-key.pem -tls-ca ca.pem
//	       [-metrics :9090] [-health :9091] [-max-sessions-per-client 16]
//
// Every flag can also be set as HSSEE_DEALER_<FLAG> (a command-line flag
// wins).
package main

import (
	"os"

	"github.com/hssee/hssee/party/dealersvc"
)

func main() { os.Exit(dealersvc.Main(os.Args[1:], os.Stderr)) }
