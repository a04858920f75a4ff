// Package metricstest reads Prometheus text pages (the servers' /metrics)
// in tests: series (name and labels) to value.
package metricstest

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
)

// Parse reads a text exposition page into series -> value; comment and
// blank lines are skipped. A series keeps its labels as written
// (`name{a="x",b="y"}`); label values may contain spaces, so the value is
// what follows the last space.
func Parse(r io.Reader) (map[string]float64, error) {
	out := map[string]float64{}
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		l := sc.Text()
		if l == "" || l[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(l, ' ')
		if i < 0 {
			return nil, fmt.Errorf("metrics line %q: no value", l)
		}
		v, err := strconv.ParseFloat(l[i+1:], 64)
		if err != nil {
			return nil, fmt.Errorf("metrics line %q: %v", l, err)
		}
		out[l[:i]] = v
	}
	return out, sc.Err()
}

// Scrape GETs url and parses the page, failing tb on any error.
func Scrape(tb testing.TB, url string) map[string]float64 {
	tb.Helper()
	resp, err := http.Get(url)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		tb.Fatalf("GET %s: %s", url, resp.Status)
	}
	m, err := Parse(resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	return m
}

// ScrapeHandler serves GET /metrics from h in memory and parses the page.
func ScrapeHandler(tb testing.TB, h http.Handler) map[string]float64 {
	tb.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != http.StatusOK {
		tb.Fatalf("GET /metrics: %d", rec.Code)
	}
	m, err := Parse(rec.Body)
	if err != nil {
		tb.Fatal(err)
	}
	return m
}
