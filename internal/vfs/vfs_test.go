package vfs_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/kiln-ml/kiln/internal/vfs"
	"github.com/kiln-ml/kiln/internal/vfs/errorfs"
)

// TestWriteFileAtomicFailures fails every operation of an atomic write in
// turn and checks that the target keeps its old content (or the new one
// when only the final directory sync failed) and that no temporary file is
// left.
func TestWriteFileAtomicFailures(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f")
	old, neu := []byte("old content"), bytes.Repeat([]byte("new"), 1000)
	count := errorfs.New(-1)
	if err := vfs.WriteFileAtomic(count, path, old); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o644 {
		t.Fatalf("written file mode %v (%v), want 0644", st.Mode().Perm(), err)
	}
	n := count.Ops()
	if n < 5 {
		t.Fatalf("only %d operations counted: %v", n, count.Log)
	}
	for i := 0; i < n; i++ {
		os.WriteFile(path, old, 0o644)
		fs := errorfs.New(i)
		err := vfs.WriteFileAtomic(fs, path, neu)
		if !errors.Is(err, errorfs.ErrInjected) {
			t.Fatalf("failing %s: error %v", fs.Log[i], err)
		}
		got, _ := os.ReadFile(path)
		if fs.Log[i] == "syncdir" {
			if !bytes.Equal(got, neu) {
				t.Fatalf("after a failed directory sync the file holds %d bytes", len(got))
			}
		} else if !bytes.Equal(got, old) {
			t.Fatalf("failing %s tore the file: %d bytes", fs.Log[i], len(got))
		}
		ents, _ := os.ReadDir(dir)
		if len(ents) != 1 {
			t.Fatalf("failing %s left %d entries", fs.Log[i], len(ents))
		}
	}
}
