// Package errorfs wraps a vfs.FS and makes the n-th operation fail, as
// Pebble's errorfs does, so that tests can walk a write path through every
// point of failure.
package errorfs

import (
	"errors"
	"fmt"
	"sync"

	"github.com/kiln-ml/kiln/internal/vfs"
)

// ErrInjected is the error an injected failure returns.
var ErrInjected = errors.New("errorfs: injected failure")

// FS counts operations (create, write, sync, close, rename, remove-free)
// and fails the one numbered FailAt (counting from 0); FailAt < 0 never
// fails. A failing write writes half of its bytes first, as a full disk
// might.
type FS struct {
	Inner  vfs.FS
	FailAt int

	mu  sync.Mutex
	ops int
	Log []string
}

// New returns an FS over vfs.OS failing operation failAt.
func New(failAt int) *FS { return &FS{Inner: vfs.OS, FailAt: failAt} }

// Ops returns how many operations were counted.
func (f *FS) Ops() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.ops
}

func (f *FS) step(op string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := f.ops
	f.ops++
	f.Log = append(f.Log, op)
	if n == f.FailAt {
		return fmt.Errorf("%s: %w", op, ErrInjected)
	}
	return nil
}

// CreateTemp implements vfs.FS.
func (f *FS) CreateTemp(dir, pattern string) (vfs.File, error) {
	if err := f.step("create"); err != nil {
		return nil, err
	}
	file, err := f.Inner.CreateTemp(dir, pattern)
	if err != nil {
		return nil, err
	}
	return &errFile{File: file, fs: f}, nil
}

// Rename implements vfs.FS.
func (f *FS) Rename(oldpath, newpath string) error {
	if err := f.step("rename"); err != nil {
		return err
	}
	return f.Inner.Rename(oldpath, newpath)
}

// Remove implements vfs.FS; removal is cleanup and never fails here.
func (f *FS) Remove(name string) error { return f.Inner.Remove(name) }

// SyncDir implements vfs.FS.
func (f *FS) SyncDir(dir string) error {
	if err := f.step("syncdir"); err != nil {
		return err
	}
	return f.Inner.SyncDir(dir)
}

type errFile struct {
	vfs.File
	fs *FS
}

func (e *errFile) Write(p []byte) (int, error) {
	if err := e.fs.step("write"); err != nil {
		n, _ := e.File.Write(p[:len(p)/2])
		return n, err
	}
	return e.File.Write(p)
}

func (e *errFile) Sync() error {
	if err := e.fs.step("sync"); err != nil {
		return err
	}
	return e.File.Sync()
}

func (e *errFile) Close() error {
	if err := e.fs.step("close"); err != nil {
		e.File.Close()
		return err
	}
	return e.File.Close()
}
