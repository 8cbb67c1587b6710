package vfs

import (
	"testing"
	"time"
)

// TestLockDir: a second holder of a folder's lock is told it waits and
// gets the lock only once the first lets it go.
func TestLockDir(t *testing.T) {
	dir := t.TempDir()
	unlock, err := LockDir(dir, func() { t.Error("the first holder waited") })
	if err != nil {
		t.Fatal(err)
	}
	waited := make(chan struct{})
	got := make(chan func())
	go func() {
		u, err := LockDir(dir, func() { close(waited) })
		if err != nil {
			t.Error(err)
		}
		got <- u
	}()
	select {
	case <-waited:
	case <-time.After(5 * time.Second):
		t.Fatal("the second holder was not told it waits")
	}
	select {
	case <-got:
		t.Fatal("the second holder got the lock while the first held it")
	case <-time.After(100 * time.Millisecond):
	}
	unlock()
	select {
	case u := <-got:
		u()
	case <-time.After(5 * time.Second):
		t.Fatal("the second holder did not get the lock after the first let it go")
	}
}
