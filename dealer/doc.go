// Package dealer generates the correlated randomness ("material") that hssee's two parties consume,
// ahead of the online phase: a Dealer collects, gate by gate, one key per party in the order the
// parties will take them (secure.Dealer walks the forward pass on shapes and pushes into it). Party
// 0's keys are seed-compressed by the gates themselves (seeds from which its shares are expanded);
// party 1's keys carry the explicit corrections; what both need (FSS correction words) goes to both.
// Keys travel as hss key frames (hss.AppendKeyFrame, read strictly by hss.ReadKeyFrame): the one
// key-stream codec of the client's upload and of the dealer service's streams.
//
// Service is the dealer as a service (cmd/dealer, behind party/dealersvc): sessions whose passes it
// walks ahead of the parties, within a memory cap, and delivers to each party once.
//
// The dealer is trusted (in the default deployment it runs inside the client, the party whose
// privacy is at stake; the service must collude with neither party). It imports hss, model and
// secure; the parties consume its output as hss key types and never import this package.
package dealer
