package main

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"testing"
	"time"
)

// A draining listener hands over the connections the kernel had queued
// before it stops, then reports itself closed: none is reset unaccepted.
func TestDrainListenerAcceptsWhatIsQueued(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	dl := &drainListener{TCPListener: ln.(*net.TCPListener)}
	const queued = 3
	for range queued {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	type accepted struct {
		n   int
		err error
	}
	got := make(chan accepted, 1)
	go func() {
		n := 0
		for {
			c, err := dl.Accept()
			if err != nil {
				got <- accepted{n, err}
				return
			}
			c.Close()
			n++
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	dl.drain(ctx, nil)
	a := <-got
	if a.n != queued || !errors.Is(a.err, net.ErrClosed) {
		t.Errorf("accepted %d of %d queued connections, then %v; want all, then net.ErrClosed", a.n, queued, a.err)
	}
}

// waitIdle waits while a connection is active and reports false at the
// deadline; a connection that has sent nothing is closed after the grace.
func TestConnTrackerWaitIdle(t *testing.T) {
	hs := &http.Server{}
	tr := trackConns(hs)
	a, b := net.Pipe()
	defer b.Close()
	hs.ConnState(a, http.StateActive)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	if tr.waitIdle(ctx, time.Hour) {
		t.Error("waitIdle reported idle with a connection active")
	}
	if el := time.Since(start); el < 40*time.Millisecond {
		t.Errorf("waitIdle returned after %v, before its deadline", el)
	}
	hs.ConnState(a, http.StateIdle)
	if !tr.waitIdle(context.Background(), time.Hour) {
		t.Error("waitIdle did not report an idle connection as idle")
	}

	silent, peer := net.Pipe()
	defer peer.Close()
	hs.ConnState(silent, http.StateNew)
	ctx, cancel = context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if !tr.waitIdle(ctx, 20*time.Millisecond) {
		t.Error("waitIdle did not give up on a silent connection after its grace")
	}
	peer.SetReadDeadline(time.Now().Add(time.Second))
	if _, err := peer.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("the silent connection was not closed: read %v", err)
	}
}
