package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"google.golang.org/grpc"

	"github.com/kiln-ml/kiln/serve"
	"github.com/kiln-ml/kiln/tensor"
)

func runServe(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("kiln serve", flag.ContinueOnError)
	fs.String("config", "", "YAML file of settings (keys are flag names); flags override it")
	repo := fs.String("repo", "", "model repository: NAME/VERSION/ folders written by kiln train --out")
	addr := fs.String("addr", "127.0.0.1:8000", "REST listen address (host:port; port 0 picks one)")
	grpcAddr := fs.String("grpc-addr", "127.0.0.1:8001", "gRPC listen address (empty: no gRPC)")
	slo := fs.Duration("slo", 20*time.Millisecond, "latency objective of a request, and its default deadline")
	maxBatch := fs.Int("max-batch", 256, "largest batch in rows (1: no batching)")
	maxDelay := fs.Duration("max-delay", 0, "longest a free model waits for its batch to fill, for the rows expected within it (default slo/40, at most 500µs; negative: no wait)")
	queueRows := fs.Int("queue-rows", 0, "bound of each version's queue in rows (default 8 × max-batch)")
	maxRows := fs.Int("max-rows", 1024, "most rows in one request")
	maxInFlight := fs.Int("max-in-flight", 4096, "most requests being served at once, across models; more are refused with 429")
	maxBody := fs.Int64("max-body", 32<<20, "largest REST request body in bytes")
	cacheRows := fs.Int("cache-rows", 10000, "prediction cache capacity in rows (0: no cache)")
	poll := fs.Duration("poll", time.Second, "how often to rescan the repository")
	threads := fs.Int("threads", 1, "compute threads (BLAS threads and Go processors)")
	logFormat := fs.String("log-format", "text", "log format on stderr: text or json")
	drain := fs.Duration("drain", 10*time.Second, "on SIGINT/SIGTERM, how long to let in-flight requests finish")
	cpuprofile := fs.String("cpuprofile", "", "write a Go CPU profile of the server's run, until it stops, to this file")
	asJSON := fs.Bool("json", false, "print the listening addresses as one JSON document on stdout")
	pos, code, ok := parseFlags(fs, args, stderr)
	if !ok {
		return code
	}
	if len(pos) > 0 {
		return usageErr(stderr, "serve: unexpected argument %q", pos[0])
	}
	if *repo == "" {
		return usageErr(stderr, "serve: --repo DIR is required")
	}
	if *maxBody < 1 {
		// It bounds gRPC messages as given too: 0 would refuse them all.
		return usageErr(stderr, "serve: --max-body %d: want a positive number of bytes", *maxBody)
	}
	var h slog.Handler
	switch *logFormat {
	case "text":
		h = slog.NewTextHandler(stderr, nil)
	case "json":
		h = slog.NewJSONHandler(stderr, nil)
	default:
		return usageErr(stderr, "serve: --log-format %q: want text or json", *logFormat)
	}
	log := slog.New(h)
	if *cpuprofile != "" {
		pf, err := os.Create(*cpuprofile)
		if err != nil {
			return fail(stderr, "serve: cpuprofile: %v", err)
		}
		defer pf.Close()
		if err := pprof.StartCPUProfile(pf); err != nil {
			return fail(stderr, "serve: cpuprofile: %v", err)
		}
		defer pprof.StopCPUProfile()
	}
	runtime.GOMAXPROCS(max(*threads, 2)) // one more for the network than for compute
	tensor.SetThreads(*threads)

	// Catch the signals before anyone can learn the addresses: a SIGTERM
	// sent the moment the server is up must drain it, not kill it.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sig)
	srv, err := serve.NewServer(serve.Config{Repository: *repo, SLO: *slo, MaxBatch: *maxBatch, MaxDelay: *maxDelay,
		MaxQueueRows: *queueRows, MaxRows: *maxRows, MaxInFlight: *maxInFlight, MaxBody: *maxBody, CacheRows: *cacheRows, Poll: *poll, Logger: log})
	if err != nil {
		return fail(stderr, "serve: %v", err)
	}
	go srv.Watch()
	hl, err := net.Listen("tcp", *addr)
	if err != nil {
		srv.Close()
		return fail(stderr, "serve: %v", err)
	}
	// A request's headers must come within 10 s and the whole request
	// within a minute (a client sending its body slowly holds one of the
	// in-flight places meanwhile); an idle keep-alive connection is
	// closed after two minutes.
	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute, IdleTimeout: 2 * time.Minute}
	dl := &drainListener{TCPListener: hl.(*net.TCPListener)}
	conns := trackConns(hs)
	var gs *grpc.Server
	var gl net.Listener
	if *grpcAddr != "" {
		if gl, err = net.Listen("tcp", *grpcAddr); err != nil {
			hl.Close()
			srv.Close()
			return fail(stderr, "serve: %v", err)
		}
		gs = grpc.NewServer(append(srv.GRPCOptions(), grpc.MaxRecvMsgSize(int(*maxBody)))...)
		srv.RegisterGRPC(gs)
	}
	errc := make(chan error, 2)
	served := make(chan struct{}) // closed when REST's Serve returns
	go func() {
		err := hs.Serve(dl)
		close(served)
		errc <- err
	}()
	grpcShown := ""
	if gs != nil {
		go func() { errc <- gs.Serve(gl) }()
		grpcShown = gl.Addr().String()
	}
	log.Info("serving", "rest", hl.Addr().String(), "grpc", grpcShown, "repo", *repo, "slo", slo.String(), "models", srv.ModelNames())
	if *asJSON {
		writeJSON(stdout, map[string]any{"rest": hl.Addr().String(), "grpc": grpcShown, "models": srv.ModelNames()})
	} else {
		fmt.Fprintf(stdout, "kiln serve: REST on http://%s, gRPC on %s, models %v\n", hl.Addr(), grpcShown, srv.ModelNames())
	}

	rc := exitOK
	select {
	case s := <-sig:
		log.Info("shutting down: finishing in-flight requests", "signal", s.String(), "drain", drain.String())
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			log.Error("listener failed", "err", err)
			rc = exitFailure
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), *drain)
	defer cancel()
	done := make(chan struct{})
	go func() {
		if gs != nil {
			gs.GracefulStop()
		}
		close(done)
	}()
	// http.Server.Shutdown drops a request whose headers it reads after
	// shutdown began, and the kernel resets connections still waiting to
	// be accepted when the listener closes. So first accept what is
	// queued, stop keep-alives (idle connections close now, busy ones
	// after their answer), and let every connection that was accepted
	// send its request and get its answer; Shutdown then only tidies up.
	hs.SetKeepAlivesEnabled(false)
	dl.drain(ctx, served)
	if !conns.waitIdle(ctx, newGrace) {
		log.Error("REST connections still open at the drain deadline")
	}
	if err := hs.Shutdown(ctx); err != nil {
		log.Error("REST shutdown did not finish", "err", err)
		rc = exitFailure
	}
	// A GracefulStop that has finished counts even when the deadline
	// has passed too (a select would pick either at random).
	select {
	case <-done:
	default:
		select {
		case <-done:
		case <-ctx.Done():
			if gs != nil {
				gs.Stop()
				log.Error("gRPC shutdown did not finish in time")
				rc = exitFailure
			}
		}
	}
	srv.Close()
	srv.WaitWatch()
	log.Info("stopped")
	return rc
}

// drainListener accepts, after drain is called, the connections already
// waiting in the kernel's queue, then reports itself closed; Serve closes
// it on return.
type drainListener struct {
	*net.TCPListener
	draining atomic.Bool
	closed   chan struct{} // closed once Accept has given up
}

// drainWindow is how long a draining listener keeps accepting: long
// enough to take what the kernel has queued, which needs no waiting.
const drainWindow = 20 * time.Millisecond

func (l *drainListener) Accept() (net.Conn, error) {
	c, err := l.TCPListener.Accept()
	if err != nil && l.draining.Load() {
		close(l.closed)
		return nil, net.ErrClosed
	}
	return c, err
}

// drain makes Accept take what is queued for drainWindow and stop; it
// returns once Accept has stopped, Serve has returned (served is closed)
// or ctx ends.
func (l *drainListener) drain(ctx context.Context, served <-chan struct{}) {
	l.closed = make(chan struct{})
	l.draining.Store(true)
	l.SetDeadline(time.Now().Add(drainWindow))
	select {
	case <-l.closed:
	case <-served:
	case <-ctx.Done():
	}
}

// connTracker counts a server's connections that are not idle: new (not
// yet sent a whole request) or active.
type connTracker struct {
	mu    sync.Mutex
	state map[net.Conn]http.ConnState
}

func trackConns(hs *http.Server) *connTracker {
	t := &connTracker{state: map[net.Conn]http.ConnState{}}
	hs.ConnState = func(c net.Conn, st http.ConnState) {
		t.mu.Lock()
		defer t.mu.Unlock()
		switch st {
		case http.StateClosed, http.StateHijacked:
			delete(t.state, c)
		default:
			t.state[c] = st
		}
	}
	return t
}

// newGrace is how long a draining server waits for a connection it has
// accepted to send its request; one still silent after it is closed, as
// Shutdown would close it after 5 s (a client's warm spare connection, a
// port scan).
const newGrace = time.Second

// waitIdle waits until no connection is active or new, or ctx ends; it
// reports whether they all went idle or closed. A connection still new
// after grace is closed.
func (t *connTracker) waitIdle(ctx context.Context, grace time.Duration) bool {
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	graceEnd := time.Now().Add(grace)
	for {
		t.mu.Lock()
		busy := 0
		late := time.Now().After(graceEnd)
		for c, st := range t.state {
			switch {
			case st == http.StateNew && late:
				c.Close()
				delete(t.state, c)
			case st != http.StateIdle:
				busy++
			}
		}
		t.mu.Unlock()
		if busy == 0 {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-tick.C:
		}
	}
}
