package serve

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"
)

// Metadata reads a model's versions in the same critical section as it
// looks the model up. It used to look up, let go of the lock, and take it
// again to read the versions, and when Sync emptied the model's versions
// in between (its files removed, a new version failing to load) it
// indexed an empty list and panicked. The writer here does to the model
// what Sync does under the lock, emptying and restoring its versions.
func TestMetadataWhileVersionsEmpty(t *testing.T) {
	repo := t.TempDir()
	saveMLP(t, repo, "m", "1", []int{8}, 1, nil)
	s, err := NewServer(Config{Repository: repo, Poll: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	sm := s.models["m"]
	loaded := sm.versions
	s.mu.Unlock()
	var stop atomic.Bool
	done := make(chan struct{})
	go func() {
		defer close(done)
		for !stop.Load() {
			for _, vs := range []map[string]*servedVersion{{}, loaded} {
				s.mu.Lock()
				sm.versions = vs
				s.rebuild(sm)
				s.mu.Unlock()
			}
		}
	}()
	var panicked error
	served, refused := 0, 0
	for end := time.Now().Add(300 * time.Millisecond); time.Now().Before(end) && panicked == nil; {
		func() {
			defer func() {
				if r := recover(); r != nil {
					panicked = fmt.Errorf("%v", r)
				}
			}()
			if md, err := s.Metadata("m", ""); err != nil {
				refused++
			} else if len(md.Versions) != 1 || md.Versions[0] != "1" {
				t.Errorf("versions %v", md.Versions)
			} else {
				served++
			}
		}()
	}
	if panicked != nil {
		// The panic left the read lock held: the writer cannot finish.
		t.Fatalf("Metadata panicked: %v", panicked)
	}
	stop.Store(true)
	<-done
	s.Close()
	t.Logf("%d answered, %d refused as unknown", served, refused)
}
