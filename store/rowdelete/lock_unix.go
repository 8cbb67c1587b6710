//go:build unix

package rowdelete

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// Lock takes an exclusive lock (flock) on the folder holding path, held
// until the returned function is called, so that two deletions from files
// of one folder, in any processes of this machine, run one after the
// other. Without it each would rewrite the content it read, and the later
// rename would bring back the rows the other removed. The folder, not the
// file, is locked because a deletion replaces the file by a rename, and
// no lock file is left next to the data.
func Lock(path string) (unlock func(), err error) {
	dir := filepath.Dir(path)
	f, err := os.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", dir, err)
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", dir, err)
	}
	return func() {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}
