//go:build unix

package vfs

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// LockDir takes an exclusive lock (flock) on folder dir, held until the
// returned function is called; processes of this machine that lock the
// same folder run one after the other. When another holder has it,
// waiting (if not nil) is called once before LockDir blocks, so that the
// caller can say what it waits for. A folder is locked rather than a file
// so that no lock file is left anywhere and a file replaced by a rename
// inside it is still covered.
func LockDir(dir string, waiting func()) (unlock func(), err error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", dir, err)
	}
	fd := int(f.Fd())
	err = flock(fd, syscall.LOCK_EX|syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		if waiting != nil {
			waiting()
		}
		err = flock(fd, syscall.LOCK_EX)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", dir, err)
	}
	return func() {
		flock(fd, syscall.LOCK_UN)
		f.Close()
	}, nil
}

func flock(fd, how int) error {
	for {
		if err := syscall.Flock(fd, how); err != syscall.EINTR {
			return err
		}
	}
}
