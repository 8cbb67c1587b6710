// Command gen writes a CSV of the Chicago taxi sample's schema with any
// number of rows, for the validate_vs_pandas benchmark: each row is a
// real row of the sample, drawn at random, with its numeric fields
// jittered (fares and miles by a few percent, timestamps by whole
// quarter-hours), so that cardinalities and missing values look like the
// real feed's. The output is deterministic for a seed.
package main

import (
	"bufio"
	"encoding/csv"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
)

func main() {
	src := flag.String("src", "", "the taxi sample (data.csv)")
	out := flag.String("out", "", "output CSV")
	rows := flag.Int("rows", 1000000, "rows to write")
	seed := flag.Uint64("seed", 1, "random seed")
	flag.Parse()
	if err := run(*src, *out, *rows, *seed); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func run(src, out string, n int, seed uint64) error {
	f, err := os.Open(src)
	if err != nil {
		return err
	}
	recs, err := csv.NewReader(f).ReadAll()
	f.Close()
	if err != nil {
		return fmt.Errorf("%s: %w", src, err)
	}
	header, rows := recs[0], recs[1:]
	idx := map[string]int{}
	for i, h := range header {
		idx[h] = i
	}
	o, err := os.Create(out)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(o, 4<<20)
	cw := csv.NewWriter(w)
	cw.Write(header)
	rng := rand.New(rand.NewPCG(seed, 7))
	jitter := func(r []string, col string, rel float64, digits int) {
		j := idx[col]
		v, err := strconv.ParseFloat(r[j], 64)
		if err != nil {
			return
		}
		r[j] = strconv.FormatFloat(v*(1+rel*(rng.Float64()*2-1)), 'f', digits, 64)
	}
	rec := make([]string, len(header))
	for i := 0; i < n; i++ {
		copy(rec, rows[rng.IntN(len(rows))])
		jitter(rec, "fare", 0.05, 2)
		jitter(rec, "trip_miles", 0.05, 2)
		jitter(rec, "tips", 0.05, 2)
		if ts, err := strconv.ParseInt(rec[idx["trip_start_timestamp"]], 10, 64); err == nil {
			rec[idx["trip_start_timestamp"]] = strconv.FormatInt(ts+900*int64(rng.IntN(96)-48), 10)
		}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return err
	}
	if err := w.Flush(); err != nil {
		return err
	}
	return o.Close()
}
