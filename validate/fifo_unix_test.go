//go:build unix

package validate

import (
	"bytes"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestComputeFileFIFO: a CSV file that is not a regular file (a named
// pipe, as for `kiln validate stats <(zcat data.csv.gz)`) is read as a
// stream, to the statistics of the same bytes read at once.
func TestComputeFileFIFO(t *testing.T) {
	data := quotedCSV(500, 3)
	want, err := ComputeCSV(bytes.NewReader(data), "q.csv", CSVOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "q.csv")
	if err := syscall.Mkfifo(p, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	wrote := make(chan error, 1)
	go func() {
		f, err := os.OpenFile(p, os.O_WRONLY, 0)
		if err == nil {
			_, err = f.Write(data)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
		}
		wrote <- err
	}()
	got, err := ComputeFile(p, Options{Workers: 4, MinSplitBytes: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := <-wrote; err != nil {
		t.Fatal(err)
	}
	sameStats(t, "named pipe", want, got)
	if len(got.Sources) != 1 || got.Sources[0] != p {
		t.Errorf("sources %v, want [%s]", got.Sources, p)
	}
}
