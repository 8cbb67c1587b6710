package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/kiln-ml/kiln/internal/vfs"
	"github.com/kiln-ml/kiln/store"
	"github.com/kiln-ml/kiln/store/rowdelete"
)

const dataDeleteUsage = `usage: kiln data delete --dataset NAME|FILE.csv --where EXPR [--json]

Remove the rows of a CSV data set that match the CEL expression EXPR
(for example one person's records: --where 'email == "ann@example.com"'),
rewriting the file in place atomically. The deletion is recorded as a run
that read the old content and wrote the new, the data set gets a new
version, and every model version derived from any version of the data
is marked stale (kiln models ls --stale; kiln pipeline run --retrain-stale
rebuilds them). Columns are variables (age > 40) or r["any name"]; an
empty field is null.
`

// deleteReport is what kiln data delete prints with --json.
type deleteReport struct {
	Dataset string           `json:"dataset"`
	Path    string           `json:"path"`
	RunID   int64            `json:"run_id"`
	Where   string           `json:"where"`
	Result  rowdelete.Result `json:"result"`
	OldHash string           `json:"old_hash"`
	NewHash string           `json:"new_hash"`
	Version int64            `json:"version"`
	Stale   []string         `json:"stale_models"`
}

func runDataDelete(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("kiln data delete", flag.ContinueOnError)
	fs.Usage = func() { fmt.Fprint(fs.Output(), dataDeleteUsage+"\nFlags:\n"); fs.PrintDefaults() }
	dataset := fs.String("dataset", "", "a data set recorded in the store, or a CSV file")
	where := fs.String("where", "", "CEL expression selecting the rows to delete")
	asJSON := fs.Bool("json", false, "print one JSON document on stdout")
	pos, code, ok := parseFlags(fs, args, stderr)
	if !ok {
		return code
	}
	if len(pos) > 0 {
		return usageErr(stderr, "data delete: unexpected argument %q", pos[0])
	}
	if *dataset == "" || *where == "" {
		return usageErr(stderr, "data delete: --dataset and --where are required")
	}
	if store.Disabled() {
		return fail(stderr, "data delete: the store is off (KILN_STORE=off); a deletion must be recorded")
	}
	ctx := context.Background()
	rec, err := startRecording(ctx, "data.delete", append([]string{"data", "delete"}, args...), flagConfig(fs))
	if err != nil {
		return fail(stderr, "%v", err)
	}
	rep, err := deleteRows(ctx, vfs.OS, rec.store, rec.rec.(*store.Run), *dataset, *where)
	if err := rec.end(ctx, err, stderr); err != nil {
		return fail(stderr, "data delete: %v", err)
	}
	if *asJSON {
		return writeJSON(stdout, rep)
	}
	fmt.Fprintf(stdout, "%s: removed %d of %d rows matching %s (run %d)", rep.Path, rep.Result.Removed, rep.Result.Rows, rep.Where, rep.RunID)
	if rep.Result.Rewritten {
		fmt.Fprintf(stdout, "; data set %s is now version %d", rep.Dataset, rep.Version)
	}
	fmt.Fprintln(stdout)
	if len(rep.Stale) > 0 {
		fmt.Fprintf(stdout, "stale models: %s\n", strings.Join(rep.Stale, ", "))
	}
	return exitOK
}

// deleteRows resolves the data set, marks the derived models stale,
// removes the rows (rewriting the file through fsys), and records the old
// and new content and the new data-set version.
func deleteRows(ctx context.Context, fsys vfs.FS, s *store.Store, run *store.Run, dataset, where string) (*deleteReport, error) {
	rep := &deleteReport{Where: where, RunID: run.ID(), Stale: []string{}}
	name, path := dataset, dataset
	if d, err := s.GetDataset(ctx, dataset, 0); err == nil {
		path = d.Path
	} else if !errors.Is(err, store.ErrNotFound) {
		return nil, err
	} else {
		if _, err := os.Stat(dataset); err != nil {
			return nil, fmt.Errorf("--dataset %q is neither a data set recorded in the store nor a file", dataset)
		}
		name = strings.TrimSuffix(filepath.Base(dataset), filepath.Ext(dataset))
		abs, _ := filepath.Abs(dataset)
		// A file recorded under another name keeps it.
		ds, err := s.ListDatasets(ctx, "")
		if err != nil {
			return nil, err
		}
		for _, d := range ds {
			if d.Path == abs {
				name = d.Name
			}
		}
		path = abs
	}
	if fi, err := os.Stat(path); err != nil {
		return nil, err
	} else if fi.IsDir() {
		return nil, fmt.Errorf("data set %s is the folder %s: data delete works on CSV files", name, path)
	}
	rep.Dataset, rep.Path = name, path
	// One deletion at a time per folder, from hashing the old content to
	// recording the new: a concurrent one would otherwise rewrite what it
	// read before this one's rename and bring the removed rows back.
	unlock, err := rowdelete.Lock(path)
	if err != nil {
		return nil, err
	}
	defer unlock()
	old, err := run.UsePath(ctx, path, "data")
	if err != nil {
		return nil, err
	}
	rep.OldHash = old.Hash
	if _, err := s.GetDataset(ctx, name, 0); errors.Is(err, store.ErrNotFound) {
		// The data before the deletion is the data set's first version.
		if _, err := s.RecordDataset(ctx, store.Dataset{Name: name, ArtifactID: old.ID, Source: path, Rows: -1}); err != nil {
			return nil, err
		}
	} else if err != nil {
		return nil, err
	}
	// The deleted content is part of every earlier version of the data set
	// (which now exists) and of everything recorded at the path.
	// (Sources of the path include recorded folders that hold the file.)
	var sources []store.Artifact
	for _, src := range []string{name, path} {
		as, err := s.Sources(ctx, src)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
		sources = append(sources, as...)
	}
	params := func(res rowdelete.Result) map[string]string {
		return map[string]string{"dataset": name, "where": where, "old_hash": old.Hash,
			"rows": strconv.FormatInt(res.Rows, 10), "removed_rows": strconv.FormatInt(res.Removed, 10)}
	}
	// The derived models are marked stale before the file is rewritten:
	// a deletion that fails after that leaves models marked stale (by a
	// failed run), never a deletion that no model knows of.
	res, err := rowdelete.DeleteWith(fsys, path, where, func(res rowdelete.Result) error {
		derived, err := s.DerivedModels(ctx, sources)
		if err != nil {
			return err
		}
		var ids []int64
		for _, m := range derived {
			ids = append(ids, m.ID)
			rep.Stale = append(rep.Stale, m.Ref())
		}
		reason := fmt.Sprintf("run %d removes %d rows matching %s from %s", run.ID(), res.Removed, where, name)
		if err := s.MarkStale(ctx, ids, reason); err != nil {
			return err
		}
		p := params(res)
		p["stale_models"] = strings.Join(rep.Stale, ",")
		return run.SetParams(ctx, p)
	})
	rep.Result = res
	if err != nil {
		return rep, err
	}
	if err := run.SetParams(ctx, params(res)); err != nil {
		return rep, err
	}
	if !res.Rewritten {
		rep.NewHash = old.Hash
		return rep, nil
	}
	nw, err := run.ProducePath(ctx, path, "data")
	if err != nil {
		return rep, err
	}
	rep.NewHash = nw.Hash
	d, err := s.RecordDataset(ctx, store.Dataset{Name: name, ArtifactID: nw.ID, RunID: run.ID(), Source: "deletion by run " + strconv.FormatInt(run.ID(), 10), Rows: res.Kept})
	if err != nil {
		return rep, err
	}
	rep.Version = d.Version
	return rep, nil
}
