// Package hsstest holds harnesses over package hss for tests and experiments, kept out of the
// production packages: a Transport wrapper that records what a party receives (Recorder), the
// chi-square statistic that tests a party's view for uniformity (ChiSquareUniform), and the catalog
// of elementwise nonlinear gates that measurement programs iterate (NonlinearGates).
//
// Package hss's own internal tests cannot import it (an import cycle); its external tests (package
// hss_test) do.
package hsstest
