// Package dealer generates the correlated randomness ("material") that hssee's two parties consume,
// ahead of the online phase: a Dealer walks a sequence of gates and produces, for each, one key per
// party, in the order the parties will take them. Party 0's keys are seed-compressed by the gates
// themselves (each holds a 32-byte seed from which its shares are expanded); party 1's keys carry the
// explicit correction words. Bundle serialises one party's keys for upload or streaming, with strict
// validation on decode.
//
// The dealer is trusted (in the default deployment it runs inside the client, the party whose
// privacy is at stake). It imports hss only; parties consume bundles as hss key types.
package dealer
