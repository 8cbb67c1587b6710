package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/kiln-ml/kiln/autograd"
	"github.com/kiln-ml/kiln/collective"
	"github.com/kiln-ml/kiln/nn"
	"github.com/kiln-ml/kiln/parallel/ps"
	"github.com/kiln-ml/kiln/train"
)

// psFlags are the parameter-server flags of kiln train --strategy ps.
type psFlags struct {
	servers         int
	mode            string
	staleness       int
	straggler       int
	stragglerFactor float64
}

const envPSServer = "KILN_PS_SERVER"

// launchPS starts the servers and workers of a parameter-server job on
// this host: the launcher serves the rendezvous store, where servers
// publish their addresses; when every worker has exited, the servers are
// stopped.
func launchPS(args []string, d distFlags, p psFlags, stdout, stderr io.Writer) int {
	srv, err := collective.ServeStore(d.rdzv)
	if err != nil {
		return fail(stderr, "launch: %v", err)
	}
	defer srv.Close()
	exe, err := os.Executable()
	if err != nil {
		return fail(stderr, "launch: %v", err)
	}
	if _, ok := stderr.(*os.File); !ok {
		// Not a file, so each server's standard error is copied by a
		// goroutine of its own, beside the launcher's own writes.
		stderr = &lockedWriter{w: stderr}
	}
	var servers []*exec.Cmd
	for i := 0; i < p.servers; i++ {
		cmd := exec.Command(exe, append([]string{"train"}, args...)...)
		cmd.Env = append(os.Environ(), envPSServer+"="+strconv.Itoa(i), train.EnvWorldSize+"="+strconv.Itoa(d.nproc), train.EnvRdzvEndpoint+"="+d.rdzv)
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		cmd.Stderr = stderr
		if err := cmd.Start(); err != nil {
			return fail(stderr, "launch server %d: %v", i, err)
		}
		servers = append(servers, cmd)
	}
	code := launch(args, d, stdout, stderr)
	for _, s := range servers {
		s.Process.Signal(syscall.SIGTERM)
		s.Wait()
	}
	return code
}

// runPSServer is a server process: it holds shard i of a freshly
// initialised model (the same seed as the workers') until it is stopped.
func runPSServer(f trainFlags, idx int, stderr io.Writer) int {
	world, _ := strconv.Atoi(os.Getenv(train.EnvWorldSize))
	mode, err := ps.ParseMode(f.ps.mode)
	if err != nil {
		return usageErr(stderr, "train: %v", err)
	}
	model, err := buildModelFor(f, stderr)
	if err != nil {
		return fail(stderr, "ps server %d: %v", idx, err)
	}
	shard := ps.Shard(model.Parameters(), f.ps.servers)[idx]
	s, err := ps.NewServer(ps.Flat(shard, false), ps.Config{Mode: mode, Staleness: f.ps.staleness, Workers: world, LR: f.lr, Momentum: f.momentum, Timeout: f.dist.timeout})
	if err != nil {
		return fail(stderr, "ps server %d: %v", idx, err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fail(stderr, "ps server %d: %v", idx, err)
	}
	ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer cancel()
	st, err := collective.DialStore(ctx, os.Getenv(train.EnvRdzvEndpoint))
	if err != nil {
		return fail(stderr, "ps server %d: %v", idx, err)
	}
	defer st.Close()
	if err := st.Set(ctx, fmt.Sprintf("ps/server/%d", idx), []byte(ln.Addr().String())); err != nil {
		return fail(stderr, "ps server %d: %v", idx, err)
	}
	go func() { <-ctx.Done(); ln.Close() }()
	if err := s.Serve(ln); err != nil {
		return fail(stderr, "ps server %d: %v", idx, err)
	}
	return exitOK
}

// buildModelFor builds the model the flags describe (weights from the
// seed), for servers, which load no data.
func buildModelFor(f trainFlags, stderr io.Writer) (nn.Module, error) {
	hidden, err := nn.ParseSizes(f.hidden)
	if err != nil {
		return nil, err
	}
	cfg := nn.ModelConfig{Name: f.model, Input: []int{1, 28, 28}, Hidden: hidden, Classes: 10}
	if f.model == "mlp" {
		cfg.Input = []int{784}
	} else {
		cfg.Hidden = nil
	}
	return nn.Build(cfg, rand.New(rand.NewPCG(f.seed, 0x6b696c6e)))
}

// psWorker connects a worker to the servers and returns the Backward hook
// that pushes gradients and pulls the next weights, with the straggler's
// delay when this rank is the straggler.
func psWorker(ctx context.Context, f trainFlags, w *worker, model nn.Module) (func(*autograd.Tape, *autograd.Value) error, func(), error) {
	st, err := collective.DialStore(ctx, w.Rdzv)
	if err != nil {
		return nil, nil, err
	}
	defer st.Close()
	var addrs []string
	gctx, cancel := context.WithTimeout(ctx, f.dist.timeout)
	defer cancel()
	for i := 0; i < f.ps.servers; i++ {
		a, err := st.Get(gctx, fmt.Sprintf("ps/server/%d", i))
		if err != nil {
			return nil, nil, fmt.Errorf("waiting for parameter server %d: %w", i, err)
		}
		addrs = append(addrs, string(a))
	}
	c, err := ps.Dial(w.Rank, addrs, model.Parameters(), f.dist.timeout)
	if err != nil {
		return nil, nil, err
	}
	if err := c.Pull(); err != nil {
		c.Close()
		return nil, nil, err
	}
	last := time.Now()
	slow := w.Rank == f.ps.straggler && f.ps.stragglerFactor > 1
	hook := func(tp *autograd.Tape, loss *autograd.Value) error {
		if err := tp.Backward(loss); err != nil {
			return err
		}
		if slow {
			time.Sleep(time.Duration(float64(time.Since(last)) * (f.ps.stragglerFactor - 1)))
		}
		if err := c.Push(); err != nil {
			return err
		}
		err := c.Pull()
		last = time.Now()
		return err
	}
	return hook, func() { c.Close() }, nil
}

// serverOptimizer stands in for the optimizer on a parameter-server
// worker: the servers apply the updates.
type serverOptimizer struct {
	params []*nn.Param
	lr     float64
}

func (o *serverOptimizer) Step()            {}
func (o *serverOptimizer) ZeroGrad()        { nn.ZeroGrad(o.params) }
func (o *serverOptimizer) SetLR(lr float64) { o.lr = lr }
func (o *serverOptimizer) LR() float64      { return o.lr }

// lockedWriter serialises the writes of several goroutines to w.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}
