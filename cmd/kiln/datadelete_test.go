package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/kiln-ml/kiln/internal/vfs/errorfs"
	"github.com/kiln-ml/kiln/store"
)

// TestDataDeleteStaleBeforeRewrite fails each filesystem operation of the
// rewrite in turn: whenever the deletion got as far as touching the file,
// the model derived from it is already marked stale and the run's
// parameters say what was being deleted, so that no failure leaves a
// deletion that the store does not know of.
func TestDataDeleteStaleBeforeRewrite(t *testing.T) {
	ctx := context.Background()
	body := "name,email\nann,ann@x.org\nbob,bob@x.org\n"
	for failAt := 0; ; failAt++ {
		home := t.TempDir()
		csv := filepath.Join(home, "data", "people.csv")
		os.MkdirAll(filepath.Dir(csv), 0o755)
		os.WriteFile(csv, []byte(body), 0o644)
		s, err := store.Open(ctx, store.Options{Home: home})
		if err != nil {
			t.Fatal(err)
		}
		tr, _ := s.StartRun(ctx, store.RunSpec{Kind: "train"})
		if _, err := tr.UsePath(ctx, csv, "data"); err != nil {
			t.Fatal(err)
		}
		dir := filepath.Join(home, "model")
		os.MkdirAll(dir, 0o755)
		os.WriteFile(filepath.Join(dir, "w"), []byte("w"), 0o644)
		tr.ProducePath(ctx, dir, "model")
		tr.End(ctx, nil)
		if _, err := s.RegisterModelDir(ctx, "m", dir, store.RunSpec{}); err != nil {
			t.Fatal(err)
		}
		run, err := s.StartRun(ctx, store.RunSpec{Kind: "data.delete"})
		if err != nil {
			t.Fatal(err)
		}
		efs := errorfs.New(failAt)
		rep, err := deleteRows(ctx, efs, s, run, csv, `name == "bob"`)
		b, _ := os.ReadFile(csv)
		m, gerr := s.GetModel(ctx, "m", 1)
		ri, rerr := s.GetRun(ctx, run.ID())
		if gerr != nil || rerr != nil {
			t.Fatal(gerr, rerr)
		}
		if !m.Stale || ri.Params["removed_rows"] != "1" || ri.Params["where"] != `name == "bob"` || ri.Params["stale_models"] != "m@1" {
			t.Fatalf("failAt %d (%v): model stale %v, run params %v", failAt, err, m.Stale, ri.Params)
		}
		s.Close()
		if err == nil {
			if string(b) != "name,email\nann,ann@x.org\n" || rep.Version != 2 {
				t.Fatalf("delete: %q %+v", b, rep)
			}
			break
		}
		if !errors.Is(err, errorfs.ErrInjected) {
			t.Fatalf("failAt %d: %v", failAt, err)
		}
		if failAt > 30 {
			t.Fatal("never succeeded")
		}
	}
}
