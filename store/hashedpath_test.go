package store_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/kiln-ml/kiln/internal/filehash"
	"github.com/kiln-ml/kiln/store"
)

// TestRecordHashedPath checks that recording a path from hashes already
// known gives the artifact RecordPath gives, that the known hashes are
// used rather than the content re-read, and that hashes which do not
// describe the path fall back to hashing it.
func TestRecordHashedPath(t *testing.T) {
	ctx := context.Background()
	s, err := store.Open(ctx, store.Options{Home: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	dir := t.TempDir()
	write := func(rel, content string) {
		p := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("a.csv", "x,y\n1,2\n")
	write("sub/b.csv", "x\n3\n")
	if err := os.MkdirAll(filepath.Join(dir, "empty"), 0o755); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{}
	for _, rel := range []string{"a.csv", "sub/b.csv"} {
		h, _, err := filehash.File(filepath.Join(dir, filepath.FromSlash(rel)))
		if err != nil {
			t.Fatal(err)
		}
		files[rel] = h
	}

	want, err := s.RecordPath(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.RecordHashedPath(ctx, dir, files)
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Errorf("folder from known hashes = %+v, RecordPath = %+v", got, want)
	}
	file := filepath.Join(dir, "a.csv")
	wantF, err := s.RecordPath(ctx, file)
	if err != nil {
		t.Fatal(err)
	}
	gotF, err := s.RecordHashedPath(ctx, file, map[string]string{"": files["a.csv"]})
	if err != nil {
		t.Fatal(err)
	}
	if gotF != wantF {
		t.Errorf("file from known hashes = %+v, RecordPath = %+v", gotF, wantF)
	}

	// The known hash is what is recorded: the content is not read again.
	fake := "0000000000000000000000000000000000000000000000000000000000000000"
	a, err := s.RecordHashedPath(ctx, file, map[string]string{"": fake})
	if err != nil {
		t.Fatal(err)
	}
	if a.Hash != fake || a.Size != wantF.Size {
		t.Errorf("recorded %s (%d bytes), want the known hash %s and size %d", a.Hash, a.Size, fake, wantF.Size)
	}

	// Hashes that miss a file, name one that is not there, or name a
	// link are not trusted: the path is hashed as RecordPath does.
	for name, fs := range map[string]map[string]string{
		"missing a file": {"a.csv": fake},
		"extra file":     {"a.csv": fake, "sub/b.csv": fake, "c.csv": fake},
		"link":           {"a.csv": fake, "sub/b.csv": "link:elsewhere"},
		"none":           nil,
	} {
		a, err := s.RecordHashedPath(ctx, dir, fs)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if a != want {
			t.Errorf("%s: recorded %+v, want RecordPath's %+v", name, a, want)
		}
	}
}
