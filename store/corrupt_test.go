package store_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kiln-ml/kiln/store"
)

// A store file that is not a database, or whose pages are damaged, gives
// an error saying so, and is never written to.
func TestCorruptSQLiteStore(t *testing.T) {
	ctx := context.Background()
	t.Run("not a database", func(t *testing.T) {
		home := t.TempDir()
		path := filepath.Join(home, "store.db")
		junk := []byte("this is a notebook, not a database\n")
		os.WriteFile(path, junk, 0o644)
		_, err := store.Open(ctx, store.Options{Home: home})
		var ce *store.CorruptError
		if !errors.As(err, &ce) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "left untouched") {
			t.Fatalf("Open: %v", err)
		}
		if b, _ := os.ReadFile(path); !bytes.Equal(b, junk) {
			t.Fatalf("the file was changed to %q", b)
		}
		if _, err := os.Stat(path + "-wal"); err == nil {
			t.Fatal("a WAL file was created next to the corrupt store")
		}
	})
	t.Run("damaged pages", func(t *testing.T) {
		home := t.TempDir()
		s, err := store.Open(ctx, store.Options{Home: home})
		if err != nil {
			t.Fatal(err)
		}
		r, _ := s.StartRun(ctx, store.RunSpec{Kind: "train"})
		for i := 0; i < 20000; i++ {
			r.LogMetric("loss", int64(i), float64(i))
		}
		r.End(ctx, nil)
		s.Close() // checkpoints the WAL into the file
		path := filepath.Join(home, "store.db")
		b, _ := os.ReadFile(path)
		if len(b) < 8*4096 {
			t.Fatalf("store is only %d bytes", len(b))
		}
		// Overwrite pages 2.. with garbage, keeping the header page.
		for i := 4096; i < len(b)-4096; i++ {
			b[i] = byte(i * 7)
		}
		os.WriteFile(path, b, 0o644)
		_, err = store.Open(ctx, store.Options{Home: home})
		var ce *store.CorruptError
		if !errors.As(err, &ce) {
			t.Fatalf("Open of a damaged store: %v", err)
		}
		if after, _ := os.ReadFile(path); !bytes.Equal(after, b) {
			t.Fatal("the damaged store was modified")
		}
	})
}

// A store whose schema is newer than the code is refused, not downgraded.
func TestNewerSchemaRefused(t *testing.T) {
	ctx := context.Background()
	home := t.TempDir()
	s, err := store.Open(ctx, store.Options{Home: home})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	// Record a future migration with the database/sql driver directly.
	if err := store.InsertMigrationForTest(home, store.SchemaVersion()+1); err != nil {
		t.Fatal(err)
	}
	_, err = store.Open(ctx, store.Options{Home: home})
	if err == nil || !strings.Contains(err.Error(), "newer than this kiln") {
		t.Fatalf("Open of a newer store: %v", err)
	}
}

// TestMigrationUpgradesOldStore opens a store of the current schema with
// code that knows one more migration: the migration is applied once, the
// data is kept, and the old code then refuses the upgraded store.
func TestMigrationUpgradesOldStore(t *testing.T) {
	ctx := context.Background()
	home := t.TempDir()
	s, err := store.Open(ctx, store.Options{Home: home})
	if err != nil {
		t.Fatal(err)
	}
	r, _ := s.StartRun(ctx, store.RunSpec{Kind: "train"})
	r.End(ctx, nil)
	s.Close()
	old := store.SchemaVersion()
	store.WithMigrationForTest([]string{"CREATE TABLE notes (run_id BIGINT NOT NULL, note TEXT NOT NULL)"}, func() {
		for i := 0; i < 2; i++ { // the second open finds nothing to do
			s, err := store.Open(ctx, store.Options{Home: home})
			if err != nil {
				t.Fatalf("open %d with migration %d: %v", i, old+1, err)
			}
			if info, err := s.GetRun(ctx, r.ID()); err != nil || info.Status != store.Succeeded {
				t.Fatalf("run after the upgrade: %+v, %v", info, err)
			}
			s.Close()
		}
	})
	_, err = store.Open(ctx, store.Options{Home: home})
	if err == nil || !strings.Contains(err.Error(), "newer than this kiln") {
		t.Fatalf("old code on the upgraded store: %v", err)
	}
}
