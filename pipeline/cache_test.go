package pipeline

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kiln-ml/kiln/internal/vfs/errorfs"
)

func testEntry(t *testing.T, dir string) *Entry {
	t.Helper()
	out := filepath.Join(dir, "out.txt")
	os.WriteFile(out, []byte("result"), 0o644)
	h, files, err := hashTree(out)
	if err != nil {
		t.Fatal(err)
	}
	return &Entry{Key: strings.Repeat("ab", 32), Step: "s", Kind: "write", Finished: time.Now(),
		Outputs: []PortHash{{Name: "out", Path: out, Hash: h}}, Files: map[string]map[string]string{"out": files}}
}

// TestCacheStoreFailing walks the cache write through a failure at every
// operation: the entry is then absent (a miss, the step runs again) and
// no temporary file is left; past the last operation it is stored.
func TestCacheStoreFailing(t *testing.T) {
	for failAt := 0; ; failAt++ {
		dir := t.TempDir()
		e := testEntry(t, dir)
		efs := errorfs.New(failAt)
		c := &Cache{Dir: filepath.Join(dir, "cache"), FS: efs}
		err := c.Store(e)
		entries, _ := os.ReadDir(c.Dir)
		if err == nil {
			if failAt < 3 {
				t.Fatalf("no failure injected at op %d of %d", failAt, efs.Ops())
			}
			if got, why := (&Cache{Dir: c.Dir}).Lookup(e.Key, nil); got == nil || len(entries) != 1 {
				t.Fatalf("stored entry not found: %s, %d files", why, len(entries))
			}
			return
		}
		if !errors.Is(err, errorfs.ErrInjected) {
			t.Fatalf("op %d: %v", failAt, err)
		}
		for _, en := range entries {
			if strings.Contains(en.Name(), ".tmp") {
				t.Fatalf("op %d: temporary %s left behind", failAt, en.Name())
			}
		}
		// The rename may have happened before a failing directory sync:
		// then the entry is whole; otherwise there is none.
		if got, why := (&Cache{Dir: c.Dir}).Lookup(e.Key, nil); got == nil && why != "no cached result" {
			t.Fatalf("op %d: after a failed store, lookup says %q", failAt, why)
		}
	}
}

func TestCacheLookupMisses(t *testing.T) {
	dir := t.TempDir()
	e := testEntry(t, dir)
	c := &Cache{Dir: filepath.Join(dir, "cache")}
	if got, why := c.Lookup(e.Key, nil); got != nil || why != "no cached result" {
		t.Fatalf("empty cache: %v %q", got, why)
	}
	if err := c.Store(e); err != nil {
		t.Fatal(err)
	}
	if got, why := c.Lookup(e.Key, nil); got == nil {
		t.Fatalf("stored: %q", why)
	}
	if _, why := c.Lookup("../../etc/passwd", nil); !strings.Contains(why, "bad key") {
		t.Fatalf("bad key: %q", why)
	}
	os.WriteFile(e.Outputs[0].Path, []byte("other"), 0o644)
	if got, why := c.Lookup(e.Key, nil); got != nil || !strings.Contains(why, "changed since it was made") {
		t.Fatalf("changed output: %v %q", got, why)
	}
	os.Remove(e.Outputs[0].Path)
	if got, why := c.Lookup(e.Key, nil); got != nil || !strings.Contains(why, "is gone") {
		t.Fatalf("removed output: %v %q", got, why)
	}
	p, _ := c.path(e.Key)
	os.WriteFile(p, []byte("{truncated"), 0o644)
	if got, why := c.Lookup(e.Key, nil); got != nil || !strings.Contains(why, "corrupt") {
		t.Fatalf("corrupt entry: %v %q", got, why)
	}
}

func TestHashPath(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "d", "sub"), 0o755)
	os.WriteFile(filepath.Join(dir, "d", "a"), []byte("1"), 0o644)
	os.WriteFile(filepath.Join(dir, "d", "sub", "b"), []byte("2"), 0o644)
	h1, err := HashPath(filepath.Join(dir, "d"))
	if err != nil {
		t.Fatal(err)
	}
	// sha256("1")
	if h, _ := HashPath(filepath.Join(dir, "d", "a")); h != "sha256:6b86b273ff34fce19d6b804eff5a3f5747ada4eaa22f1d49c01e52ddb7875b4b" {
		t.Fatalf("file hash %s", h)
	}
	for _, change := range []func(){
		func() { os.WriteFile(filepath.Join(dir, "d", "sub", "b"), []byte("3"), 0o644) },
		func() { os.Rename(filepath.Join(dir, "d", "sub", "b"), filepath.Join(dir, "d", "sub", "c")) },
		func() { os.WriteFile(filepath.Join(dir, "d", "new"), nil, 0o644) },
		func() { os.Mkdir(filepath.Join(dir, "d", "empty"), 0o755) },
	} {
		change()
		h2, _ := HashPath(filepath.Join(dir, "d"))
		if h2 == h1 {
			t.Fatal("folder hash did not change")
		}
		h1 = h2
	}
}
