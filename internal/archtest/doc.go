// Package archtest holds the test that enforces the layering rules of
// docs/ARCHITECTURE.md on the module's import graph (go list), so a change
// that makes an import point upward fails CI instead of waiting for a
// reviewer. It has no code of its own.
package archtest
