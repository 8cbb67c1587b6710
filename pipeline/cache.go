package pipeline

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"time"

	"github.com/kiln-ml/kiln/internal/vfs"
)

// Cache holds the results of steps that succeeded, one JSON file per
// step key in Dir (by default KILN_HOME/pipeline/cache), written
// atomically. A result is only reused while every output it recorded is
// still on disk with the content hash recorded, so deleting or editing an
// output re-runs its step.
type Cache struct {
	Dir string
	// FS is where entries are written (default the real filesystem).
	FS vfs.FS
}

// Entry is one cached step result.
type Entry struct {
	Key     string     `json:"key"`
	Step    string     `json:"step"`
	Kind    string     `json:"kind"`
	Command []string   `json:"command"`
	Inputs  []PortHash `json:"inputs"`
	Outputs []PortHash `json:"outputs"`
	// Files holds, for each output by name, the content hash (hex SHA-256)
	// of each of its files by relative path ("" for an output that is a
	// file), so that a change can be traced to the files that changed.
	Files    map[string]map[string]string `json:"files,omitempty"`
	RunID    string                       `json:"run_id,omitempty"`
	Finished time.Time                    `json:"finished"`
	Seconds  float64                      `json:"seconds"`
	// Amended is set once an output was found rewritten by a recorded
	// deletion and accepted.
	Amended bool `json:"amended,omitempty"`
}

var keyRE = regexp.MustCompile(`^[0-9a-f]{64}$`)

func (c *Cache) path(key string) (string, error) {
	if !keyRE.MatchString(key) {
		return "", fmt.Errorf("pipeline cache: bad key %q", key)
	}
	return filepath.Join(c.Dir, key+".json"), nil
}

// Amended says whether a file an output holds was legitimately rewritten
// since a cached result was made, from content hash old to new (hex
// SHA-256): kiln answers from the store's record of `kiln data delete`,
// which rewrites data files in place. A rewritten output is then kept as
// the step's result (its consumers see a changed input and re-run) rather
// than re-made by its producer, which would undo the deletion.
type Amended func(file, old, new string, since time.Time) bool

// Lookup returns the entry for key when one exists and every output it
// recorded still hashes to the recorded value, or differs from it only in
// files that amended explains (amended may be nil); such an entry is
// rewritten with the outputs' new hashes. Otherwise Lookup returns nil and
// the reason the step must run ("no cached result", "output X changed",
// ...). An unreadable or corrupt entry is a miss, not an error: the step
// runs and its entry is rewritten. The returned entry's outputs carry the
// Files Lookup hashed.
func (c *Cache) Lookup(key string, amended Amended) (*Entry, string) {
	p, err := c.path(key)
	if err != nil {
		return nil, err.Error()
	}
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, "no cached result"
	}
	if err != nil {
		return nil, fmt.Sprintf("cache entry unreadable: %v", err)
	}
	var e Entry
	if err := json.Unmarshal(b, &e); err != nil || e.Key != key {
		return nil, fmt.Sprintf("cache entry %s is corrupt", p)
	}
	changed := false
	for i, o := range e.Outputs {
		h, files, err := hashTree(o.Path)
		if err != nil {
			return nil, fmt.Sprintf("output %s (%s) is gone", o.Name, o.Path)
		}
		e.Outputs[i].Files = files
		if h == o.Hash {
			continue
		}
		if amended == nil || !explained(o.Path, e.Files[o.Name], files, e.Finished, amended) {
			return nil, fmt.Sprintf("output %s (%s) changed since it was made", o.Name, o.Path)
		}
		e.Outputs[i].Hash, e.Files[o.Name] = h, files
		changed = true
	}
	if changed {
		e.Amended = true
		if err := c.Store(&e); err != nil {
			return nil, fmt.Sprintf("output amended, but the cache entry could not be updated: %v", err)
		}
	}
	return &e, ""
}

// explained reports whether the files of an output differ from those
// recorded only in files whose change amended accounts for.
func explained(root string, was, now map[string]string, since time.Time, amended Amended) bool {
	if was == nil || len(was) != len(now) {
		return false
	}
	for rel, h := range now {
		old, ok := was[rel]
		if !ok {
			return false
		}
		if old != h && !amended(filepath.Join(root, filepath.FromSlash(rel)), old, h, since) {
			return false
		}
	}
	return true
}

// Store records a step's result under its key, atomically.
func (c *Cache) Store(e *Entry) error {
	p, err := c.path(e.Key)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(c.Dir, 0o755); err != nil {
		return fmt.Errorf("pipeline cache: %w", err)
	}
	b, err := json.MarshalIndent(e, "", "  ")
	if err != nil {
		return fmt.Errorf("pipeline cache: %w", err)
	}
	fsys := c.FS
	if fsys == nil {
		fsys = vfs.OS
	}
	if err := vfs.WriteFileAtomic(fsys, p, append(b, '\n')); err != nil {
		return fmt.Errorf("pipeline cache: write %s: %w", p, err)
	}
	return nil
}
