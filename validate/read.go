package validate

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"unicode/utf8"
)

// Options say how data files are read into statistics.
type Options struct {
	// Format is "csv", "jsonl" or "parquet"; "" picks it from each file's
	// extension (.jsonl/.ndjson/.json, .parquet/.pq, else CSV).
	Format string
	// CSV says how CSV files are read.
	CSV CSVOptions
	// Workers is how many goroutines read one CSV file, each a byte range
	// of it (0: all cores).
	Workers int
	// MinSplitBytes is the smallest file that is split across workers
	// (default 4 MiB).
	MinSplitBytes int64
	// Progress, when set, is called with the number of bytes each read
	// of CSV or JSON Lines input brought in (about every MiB); it must be
	// safe for concurrent use.
	Progress func(n int64)
}

func (o *Options) workers() int {
	if o.Workers <= 0 {
		return runtime.GOMAXPROCS(0)
	}
	return o.Workers
}

// FormatOf names the format of path by its extension.
func FormatOf(path string) string {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".jsonl", ".ndjson", ".json":
		return "jsonl"
	case ".parquet", ".pq":
		return "parquet"
	}
	return "csv"
}

// ComputeFiles returns the statistics of the files taken together, in one
// streaming pass over each. Several files are read at once, up to
// o.Workers (each large CSV file then split among its share of the
// workers), and their statistics merged in the order given.
func ComputeFiles(paths []string, o Options) (*Stats, error) {
	if len(paths) == 0 {
		return nil, errors.New("statistics: no data files")
	}
	w := o.workers()
	per := o
	per.Workers = max(1, w/len(paths))
	parts := make([]*Stats, len(paths))
	errs := make([]error, len(paths))
	sem := make(chan struct{}, max(1, min(w, len(paths))))
	var wg sync.WaitGroup
	for i, p := range paths {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			parts[i], errs[i] = ComputeFile(p, per)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	total := parts[0]
	for _, s := range parts[1:] {
		if err := total.Merge(s); err != nil {
			return nil, err
		}
	}
	if len(parts) > 1 {
		total.Finish()
	}
	return total, nil
}

// ComputeFile returns the statistics of one file.
func ComputeFile(path string, o Options) (*Stats, error) {
	format := o.Format
	if format == "" {
		format = FormatOf(path)
	}
	var s *Stats
	var err error
	switch format {
	case "csv":
		s, err = computeCSVFile(path, o)
	case "jsonl":
		var f *os.File
		if f, err = os.Open(path); err != nil {
			return nil, err
		}
		var r io.Reader = f
		if o.Progress != nil {
			r = progressReader{f, o.Progress}
		}
		s, err = ComputeJSONL(r, path, o.CSV.maxRecord())
		f.Close()
	case "parquet":
		s, err = computeParquet(path)
	default:
		return nil, fmt.Errorf("%s: unknown format %q (want csv, jsonl or parquet)", path, format)
	}
	if err != nil {
		return nil, err
	}
	s.Sources = []string{path}
	s.Finish()
	return s, nil
}

// ComputeCSV returns the statistics of a CSV stream in one pass on one
// goroutine.
func ComputeCSV(r io.Reader, name string, o CSVOptions) (*Stats, error) {
	s, err := computeCSVStream(r, name, o)
	if err != nil {
		return nil, err
	}
	s.Sources = []string{name}
	s.Finish()
	return s, nil
}

// computeCSVStream is ComputeCSV without the finish.
func computeCSVStream(r io.Reader, name string, o CSVOptions) (*Stats, error) {
	sc := newCSVScanner(r, name, &o, 1)
	header, err := readHeader(sc, &o)
	if err != nil {
		return nil, err
	}
	s := NewStats(header)
	if err := scanInto(sc, s, &o); err != nil {
		return nil, err
	}
	return s, nil
}

// readHeader returns the column names: the first record, or o.Columns.
func readHeader(sc *csvScanner, o *CSVOptions) ([]string, error) {
	if len(o.Columns) > 0 {
		return checkColumns(o.Columns, sc.name, 0)
	}
	fields, line, err := sc.next()
	if err == io.EOF {
		return nil, &ReadError{File: sc.name, Err: errors.New("empty file: no header row")}
	}
	if err != nil {
		return nil, err
	}
	names := make([]string, len(fields))
	for i, f := range fields {
		names[i] = string(f)
	}
	names[0] = strings.TrimPrefix(names[0], "\ufeff") // a UTF-8 byte-order mark
	return checkColumns(names, sc.name, line)
}

func checkColumns(names []string, file string, line int64) ([]string, error) {
	seen := map[string]bool{}
	for i, n := range names {
		if !utf8.ValidString(n) {
			return nil, &ReadError{File: file, Line: line, Err: fmt.Errorf("column %d: name %q is not valid UTF-8", i+1, n)}
		}
		if n == "" {
			return nil, &ReadError{File: file, Line: line, Err: fmt.Errorf("column %d has no name", i+1)}
		}
		if seen[n] {
			return nil, &ReadError{File: file, Line: line, Err: fmt.Errorf("column %q twice", n)}
		}
		seen[n] = true
	}
	return names, nil
}

// scanInto adds every record of sc to s.
func scanInto(sc *csvScanner, s *Stats, o *CSVOptions) error {
	rules := valueRules{}
	for _, n := range o.Nulls {
		rules.nulls = append(rules.nulls, []byte(n))
	}
	feats := s.Features
	want := len(feats)
	for {
		fields, line, err := sc.next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if len(fields) != want {
			s.addRagged(fmt.Sprintf("%s:%d: %d fields, want %d", sc.name, line, len(fields), want))
			continue
		}
		s.Rows++
		for j, f := range fields {
			feats[j].addField(f, &rules)
		}
	}
}

// computeCSVFile reads a CSV file, split into byte ranges at record
// boundaries when it is large and there are several workers; its caller
// finishes the statistics.
func computeCSVFile(path string, o Options) (*Stats, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		var r io.Reader = f
		if o.Progress != nil {
			r = progressReader{f, o.Progress}
		}
		return computeCSVStream(r, path, o.CSV)
	}
	return ComputeCSVAt(f, fi.Size(), path, o)
}

// ComputeCSVAt returns the statistics of the CSV data in r[0:size]: one
// pass on one goroutine when it is small or o.Workers is 1, otherwise
// o.Workers byte ranges read in parallel (splitCSV) and merged. They are
// not finished: call Finish before reading their summary.
func ComputeCSVAt(r io.ReaderAt, size int64, name string, o Options) (*Stats, error) {
	sc := newCSVScanner(io.NewSectionReader(r, 0, size), name, &o.CSV, 1)
	header, err := readHeader(sc, &o.CSV)
	if err != nil {
		return nil, err
	}
	minSplit := o.MinSplitBytes
	if minSplit <= 0 {
		minSplit = 4 << 20
	}
	start, line := sc.offset(), sc.line
	w := o.workers()
	if w == 1 || size-start < minSplit {
		if o.Progress != nil {
			o.Progress(sc.base + int64(sc.end)) // read with the header
			sc.progress = o.Progress
		}
		s := NewStats(header)
		if err := scanInto(sc, s, &o.CSV); err != nil {
			return nil, err
		}
		return s, nil
	}
	ranges, err := splitCSV(r, start, size, line, w, o.CSV.Comment != 0)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if o.Progress != nil {
		o.Progress(start) // the header
	}
	parts := make([]*Stats, len(ranges))
	errs := make([]error, len(ranges))
	var wg sync.WaitGroup
	for i, br := range ranges {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := NewStats(header)
			rs := newCSVScanner(io.NewSectionReader(r, br.start, br.end-br.start), name, &o.CSV, br.line)
			rs.progress = o.Progress
			if err := scanInto(rs, s, &o.CSV); err != nil {
				errs[i] = err
				return
			}
			parts[i] = s
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	total := parts[0]
	for _, p := range parts[1:] {
		if err := total.Merge(p); err != nil {
			return nil, err
		}
	}
	return total, nil
}

// byteRange is a part of a CSV file that starts at a record boundary, and
// the line it starts on.
type byteRange struct {
	start, end int64
	line       int64
}

// splitCSV cuts [start, size) into up to n ranges that each begin at a
// record boundary. A newline ends a record exactly when an even number of
// quote characters precedes it (RFC 4180 escapes a quote inside a quoted
// field as two quotes, so parity tells inside from outside), so the cut
// points are provable, not guessed: the first pass counts quotes and
// newlines in each of n equal pieces in parallel, and each cut moves
// forward from its piece's start to the first newline at even parity.
// Comment lines break the parity rule (a quote in a comment counts), so
// with comments a file that holds any quote is read as one range.
func splitCSV(f io.ReaderAt, start, size, line int64, n int, comments bool) ([]byteRange, error) {
	piece := (size - start + int64(n) - 1) / int64(n)
	type count struct{ quotes, newlines int64 }
	counts := make([]count, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for k := 0; k < n; k++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lo := start + int64(k)*piece
			hi := min(lo+piece, size)
			buf := make([]byte, 1<<20)
			for off := lo; off < hi; {
				m, err := f.ReadAt(buf[:min(int64(len(buf)), hi-off)], off)
				counts[k].quotes += int64(bytes.Count(buf[:m], []byte{'"'}))
				counts[k].newlines += int64(bytes.Count(buf[:m], []byte{'\n'}))
				off += int64(m)
				if err != nil && !(err == io.EOF && off >= hi) {
					errs[k] = err
					return
				}
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	out := []byteRange{{start: start, line: line}}
	if comments {
		for _, c := range counts {
			if c.quotes > 0 {
				out[0].end = size
				return out, nil
			}
		}
	}
	var quotes, newlines int64
	buf := make([]byte, 64<<10)
	for k := 1; k < n; k++ {
		quotes += counts[k-1].quotes
		newlines += counts[k-1].newlines
		lo := start + int64(k)*piece
		if lo >= size {
			break
		}
		prev := out[len(out)-1].start
		// Scan forward from lo to a newline at even parity.
		q, nl := quotes, newlines
		cut := int64(-1)
		for off := lo; off < size && cut < 0; {
			m, err := f.ReadAt(buf[:min(int64(len(buf)), size-off)], off)
			for i := 0; i < m; i++ {
				switch buf[i] {
				case '"':
					q++
				case '\n':
					nl++
					if q%2 == 0 {
						cut = off + int64(i) + 1
					}
				}
				if cut >= 0 {
					break
				}
			}
			off += int64(m)
			if err != nil && err != io.EOF {
				return nil, err
			}
			if m == 0 {
				break
			}
		}
		if cut < 0 || cut >= size {
			break
		}
		if cut <= prev {
			continue // a quoted field spans the whole piece
		}
		// Line numbers at the cut: newlines before lo plus those scanned.
		out[len(out)-1].end = cut
		out = append(out, byteRange{start: cut, line: line + nl})
	}
	out[len(out)-1].end = size
	return out, nil
}

// progressReader reports the bytes read through it.
type progressReader struct {
	r  io.Reader
	fn func(int64)
}

// Read reads from the underlying reader and reports the bytes.
func (p progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.fn(int64(n))
	return n, err
}
