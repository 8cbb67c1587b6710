package serve

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// onLog is a slog handler that calls hook with each record's message.
type onLog struct{ hook func(msg string) }

func (h onLog) Enabled(context.Context, slog.Level) bool { return true }
func (h onLog) Handle(_ context.Context, r slog.Record) error {
	h.hook(r.Message)
	return nil
}
func (h onLog) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h onLog) WithGroup(string) slog.Handler      { return h }

// A Sync that is loading versions when Close runs must not put them in
// the closed server: they were added to the emptied model map with
// batchers that nothing would ever stop (a goroutine each), and the
// closed server still listed the model. The hook closes the server while
// Sync is between loading a new version (a/2) and installing it, where
// Watch's Sync can be when kiln serve shuts down.
func TestSyncAfterCloseInstallsNothing(t *testing.T) {
	repo := t.TempDir()
	saveMLP(t, repo, "a", "1", []int{8}, 1, nil)
	// A version that fails to load, so that Sync logs during loading.
	broken := filepath.Join(repo, "b", "1")
	if err := os.MkdirAll(broken, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"model.json", "model.safetensors"} {
		if err := os.WriteFile(filepath.Join(broken, f), []byte("not a model"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var srv atomic.Pointer[Server]
	s, err := NewServer(Config{Repository: repo, Poll: time.Hour, Logger: slog.New(onLog{func(msg string) {
		if msg == "model version failed to load" {
			if s := srv.Load(); s != nil {
				s.Close()
			}
		}
	}})})
	if err != nil {
		t.Fatal(err)
	}
	saveMLP(t, repo, "a", "2", []int{8}, 2, nil)
	before := batcherLoops()
	srv.Store(s)
	if err := s.Sync(); err != nil {
		t.Fatal(err)
	}
	if names := s.ModelNames(); len(names) != 0 {
		t.Errorf("after Close, the server lists models %v", names)
	}
	// a/1's batcher was stopped by Close; a/2's must not be running.
	deadline := time.Now().Add(2 * time.Second)
	for batcherLoops() != before-1 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := batcherLoops(); n != before-1 {
		t.Errorf("%d batcher goroutines after Close and Sync, %d before Close: want %d (Close stopped a/1's, and no other may start)", n, before, before-1)
	}
}

// batcherLoops counts the goroutines running a Batcher's loop.
func batcherLoops() int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return strings.Count(string(buf[:n]), "serve.(*Batcher).loop(")
		}
		buf = make([]byte, 2*len(buf))
	}
}

// WaitWatch does not wait for a Watch that never started, and a second
// Watch returns at once instead of closing the stopped channel twice.
func TestWaitWatchWithoutWatch(t *testing.T) {
	repo := t.TempDir()
	saveMLP(t, repo, "m", "1", []int{8}, 1, nil)
	s, err := NewServer(Config{Repository: repo})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	done := make(chan struct{})
	go func() { s.WaitWatch(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("WaitWatch blocked with no Watch running")
	}
	w, err := NewServer(Config{Repository: repo, Poll: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	first := make(chan struct{})
	go func() { w.Watch(); close(first) }()
	waitFor(t, "the first Watch to start", func() bool {
		w.mu.RLock()
		defer w.mu.RUnlock()
		return w.watching
	})
	second := make(chan struct{})
	go func() { w.Watch(); close(second) }()
	select {
	case <-second:
	case <-time.After(5 * time.Second):
		t.Fatal("a second Watch did not return at once")
	}
	w.Close()
	w.WaitWatch()
	<-first
}
