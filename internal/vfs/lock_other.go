//go:build !unix

package vfs

// LockDir does nothing where flock is not available: callers are then
// not serialised.
func LockDir(dir string, waiting func()) (unlock func(), err error) { return func() {}, nil }
