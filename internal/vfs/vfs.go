// Package vfs is the small filesystem interface through which Kiln's write
// paths go, so that tests can make any operation fail (package
// internal/vfs/errorfs) and check that a write failing half-way leaves
// nothing torn: the target holds its old content or nothing, and no
// temporary file is left behind.
package vfs

import (
	"io"
	"os"
	"path/filepath"
)

// File is a file open for writing.
type File interface {
	io.Writer
	Chmod(mode os.FileMode) error
	Sync() error
	Close() error
	Name() string
}

// FS is the set of operations the atomic writers use.
type FS interface {
	CreateTemp(dir, pattern string) (File, error)
	Rename(oldpath, newpath string) error
	Remove(name string) error
	SyncDir(dir string) error
}

// OS is the real filesystem.
var OS FS = osFS{}

type osFS struct{}

func (osFS) CreateTemp(dir, pattern string) (File, error) { return os.CreateTemp(dir, pattern) }
func (osFS) Rename(oldpath, newpath string) error         { return os.Rename(oldpath, newpath) }
func (osFS) Remove(name string) error                     { return os.Remove(name) }

func (osFS) SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// WriteFileAtomic writes b to path so that a reader sees either the old
// file or all of b: into a temporary file in the same directory, synced,
// renamed over path, then the directory synced. The file is readable by
// all (0644; os.CreateTemp makes it private). On any error the temporary
// file is removed and path is untouched.
func WriteFileAtomic(fs FS, path string, b []byte) (err error) {
	dir := filepath.Dir(path)
	tmp, err := fs.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			fs.Remove(tmp.Name())
		}
	}()
	if err = tmp.Chmod(0o644); err != nil {
		return err
	}
	if _, err = tmp.Write(b); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	if err = fs.Rename(tmp.Name(), path); err != nil {
		return err
	}
	// The rename is done; a failed directory sync only weakens durability
	// across a power cut, so it is reported but the file is in place.
	return fs.SyncDir(dir)
}
