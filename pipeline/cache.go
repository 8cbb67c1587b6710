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
	Key      string     `json:"key"`
	Step     string     `json:"step"`
	Kind     string     `json:"kind"`
	Command  []string   `json:"command"`
	Inputs   []PortHash `json:"inputs"`
	Outputs  []PortHash `json:"outputs"`
	RunID    string     `json:"run_id,omitempty"`
	Finished time.Time  `json:"finished"`
	Seconds  float64    `json:"seconds"`
}

var keyRE = regexp.MustCompile(`^[0-9a-f]{64}$`)

func (c *Cache) path(key string) (string, error) {
	if !keyRE.MatchString(key) {
		return "", fmt.Errorf("pipeline cache: bad key %q", key)
	}
	return filepath.Join(c.Dir, key+".json"), nil
}

// Lookup returns the entry for key when one exists and every output it
// recorded still hashes to the recorded value. Otherwise it returns nil
// and the reason the step must run ("no cached result", "output X
// changed", ...). An unreadable or corrupt entry is a miss, not an error:
// the step runs and its entry is rewritten.
func (c *Cache) Lookup(key string) (*Entry, string) {
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
	for _, o := range e.Outputs {
		h, err := HashPath(o.Path)
		if err != nil {
			return nil, fmt.Sprintf("output %s (%s) is gone", o.Name, o.Path)
		}
		if h != o.Hash {
			return nil, fmt.Sprintf("output %s (%s) changed since it was made", o.Name, o.Path)
		}
	}
	return &e, ""
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
