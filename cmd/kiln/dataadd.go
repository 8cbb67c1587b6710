package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/kiln-ml/kiln/store"
	"github.com/kiln-ml/kiln/store/rowdelete"
)

// runDataAdd runs `kiln data add NAME PATH`: it records a local file or
// folder as the next version of data set NAME (a run of kind "data.add"
// that produced it), with the header and row count of a CSV file.
func runDataAdd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("kiln data add", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print the recorded data set version as one JSON document")
	pos, code, ok := parseFlags(fs, args, stderr)
	if !ok {
		return code
	}
	if len(pos) != 2 {
		return usageErr(stderr, "data add: usage: kiln data add NAME PATH")
	}
	name, path := pos[0], pos[1]
	if store.Disabled() {
		return fail(stderr, "data add: the store is off (KILN_STORE=off)")
	}
	ctx := context.Background()
	rec, err := startRecording(ctx, "data.add", append([]string{"data", "add"}, args...), flagConfig(fs))
	if err != nil {
		return fail(stderr, "%v", err)
	}
	d, err := addDataset(ctx, rec, name, path)
	if err := rec.end(ctx, err, stderr); err != nil {
		return fail(stderr, "data add: %v", err)
	}
	if *asJSON {
		return writeJSON(stdout, d)
	}
	rows := "rows unknown"
	if d.Rows >= 0 {
		rows = fmt.Sprintf("%d rows", d.Rows)
	}
	fmt.Fprintf(stdout, "data set %s version %d: %s (%s, sha256 %.16s)\n", d.Name, d.Version, d.Path, rows, d.Hash)
	return exitOK
}

func addDataset(ctx context.Context, rec *recording, name, path string) (store.Dataset, error) {
	a, err := rec.rec.ProducePath(ctx, path, "data")
	if err != nil {
		return store.Dataset{}, err
	}
	d := store.Dataset{Name: name, ArtifactID: a.ID, RunID: rec.rec.ID(), Source: a.Path, Rows: -1}
	if a.Kind == "file" && strings.HasSuffix(strings.ToLower(path), ".csv") {
		f, err := os.Open(path)
		if err != nil {
			return store.Dataset{}, err
		}
		header, kinds, err := rowdelete.InferKinds(f, path)
		f.Close()
		if err != nil {
			return store.Dataset{}, err
		}
		rows, stats, err := csvStats(path, kinds)
		if err != nil {
			return store.Dataset{}, err
		}
		type column struct {
			Name string `json:"name"`
			Type string `json:"type"`
		}
		cols := make([]column, len(header))
		for i, h := range header {
			cols[i] = column{h, kinds[i].String()}
			stats[i].Name = h
		}
		d.Rows = rows
		d.Schema, _ = json.Marshal(map[string]any{"columns": cols})
		d.Stats, _ = json.Marshal(map[string]any{"rows": rows, "columns": stats})
	}
	return rec.store.RecordDataset(ctx, d)
}

// columnStats are the statistics kiln data add records per CSV column.
type columnStats struct {
	Name    string   `json:"name"`
	Missing int64    `json:"missing"`
	Min     *float64 `json:"min,omitempty"`
	Max     *float64 `json:"max,omitempty"`
	Mean    *float64 `json:"mean,omitempty"`
}

// csvStats counts a CSV file's records and, per column, its empty fields
// and, for numeric columns, the minimum, maximum and mean.
func csvStats(path string, kinds []rowdelete.Kind) (int64, []columnStats, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, nil, err
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.TrimLeadingSpace = true // as rowdelete.InferKinds reads the kinds
	r.ReuseRecord = true
	if _, err := r.Read(); err != nil {
		return 0, nil, fmt.Errorf("%s: header: %w", path, err)
	}
	stats := make([]columnStats, len(kinds))
	sums := make([]float64, len(kinds))
	counts := make([]int64, len(kinds))
	var n int64
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return 0, nil, fmt.Errorf("%s: %w", path, err)
		}
		n++
		for i, v := range rec {
			if v == "" {
				stats[i].Missing++
				continue
			}
			if kinds[i] != rowdelete.Int && kinds[i] != rowdelete.Double {
				continue
			}
			x, err := strconv.ParseFloat(v, 64)
			if err != nil {
				continue
			}
			if counts[i] == 0 {
				stats[i].Min, stats[i].Max = new(float64), new(float64)
				*stats[i].Min, *stats[i].Max = x, x
			}
			*stats[i].Min, *stats[i].Max = min(*stats[i].Min, x), max(*stats[i].Max, x)
			sums[i] += x
			counts[i]++
		}
	}
	for i := range stats {
		if counts[i] > 0 {
			m := sums[i] / float64(counts[i])
			stats[i].Mean = &m
		}
	}
	return n, stats, nil
}
