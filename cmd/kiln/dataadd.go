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
		header, rows, err := csvShape(path)
		if err != nil {
			return store.Dataset{}, err
		}
		f, err := os.Open(path)
		if err != nil {
			return store.Dataset{}, err
		}
		_, kinds, err := rowdelete.InferKinds(f, path)
		f.Close()
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
		}
		d.Rows = rows
		d.Schema, _ = json.Marshal(map[string]any{"columns": cols})
	}
	return rec.store.RecordDataset(ctx, d)
}

// csvShape returns a CSV file's header and number of records.
func csvShape(path string) ([]string, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.ReuseRecord = true
	header, err := r.Read()
	if err != nil {
		return nil, 0, fmt.Errorf("%s: header: %w", path, err)
	}
	header = append([]string(nil), header...)
	var n int64
	for {
		_, err := r.Read()
		if errors.Is(err, io.EOF) {
			return header, n, nil
		}
		if err != nil {
			return nil, 0, fmt.Errorf("%s: %w", path, err)
		}
		n++
	}
}
