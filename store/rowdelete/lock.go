package rowdelete

import (
	"path/filepath"

	"github.com/kiln-ml/kiln/internal/vfs"
)

// Lock takes an exclusive lock on the folder holding path (vfs.LockDir),
// held until the returned function is called, so that two deletions from
// files of one folder, in any processes of this machine, run one after
// the other. Without it each would rewrite the content it read, and the
// later rename would bring back the rows the other removed.
func Lock(path string) (unlock func(), err error) {
	return vfs.LockDir(filepath.Dir(path), nil)
}
