package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/kiln-ml/kiln/collective"
)

// Environment of a worker started by the launcher (as torchrun's RANK,
// WORLD_SIZE, MASTER_ADDR:MASTER_PORT).
const (
	envRank  = "KILN_RANK"
	envWorld = "KILN_WORLD_SIZE"
	envRdzv  = "KILN_RDZV_ENDPOINT"
)

// distFlags are the data-parallel flags of kiln train.
type distFlags struct {
	nproc, nnodes, nodeRank int
	rdzv, backend, jobID    string
	transport               string
	bucketMB                float64
	timeout                 time.Duration
}

// worker is this process's place in a data-parallel job.
type worker struct {
	rank, world int
	rdzv        string
}

func workerFromEnv() (*worker, error) {
	rs, ws := os.Getenv(envRank), os.Getenv(envWorld)
	if rs == "" {
		return nil, nil
	}
	r, err1 := strconv.Atoi(rs)
	w, err2 := strconv.Atoi(ws)
	if err1 != nil || err2 != nil || w < 1 || r < 0 || r >= w {
		return nil, fmt.Errorf("bad %s=%q %s=%q", envRank, rs, envWorld, ws)
	}
	return &worker{rank: r, world: w, rdzv: os.Getenv(envRdzv)}, nil
}

// launch starts nproc worker processes of this binary with the same
// arguments, one rank each, prefixes their output with the rank, and stops
// all of them when one fails. It returns the exit code of the job.
func launch(args []string, d distFlags, stdout, stderr io.Writer) int {
	exe, err := os.Executable()
	if err != nil {
		return fail(stderr, "launch: %v", err)
	}
	world := d.nnodes * d.nproc
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type result struct {
		rank int
		err  error
	}
	results := make(chan result, d.nproc)
	var outMu sync.Mutex
	var cmds []*exec.Cmd
	for i := 0; i < d.nproc; i++ {
		rank := d.nodeRank*d.nproc + i
		cmd := exec.Command(exe, append([]string{"train"}, args...)...)
		cmd.Env = append(os.Environ(), envRank+"="+strconv.Itoa(rank), envWorld+"="+strconv.Itoa(world), envRdzv+"="+d.rdzv)
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		so, _ := cmd.StdoutPipe()
		se, _ := cmd.StderrPipe()
		if err := cmd.Start(); err != nil {
			cancel()
			for _, c := range cmds {
				c.Process.Kill()
			}
			return fail(stderr, "launch rank %d: %v", rank, err)
		}
		cmds = append(cmds, cmd)
		var pipes sync.WaitGroup
		pipes.Add(2)
		go prefix(&pipes, &outMu, so, stdout, rank, rank == 0) // rank 0's stdout is the job's
		go prefix(&pipes, &outMu, se, stderr, rank, false)
		go func(rank int, cmd *exec.Cmd) {
			pipes.Wait()
			results <- result{rank, cmd.Wait()}
		}(rank, cmd)
	}
	code := exitOK
	for range cmds {
		r := <-results
		if r.err != nil && code == exitOK {
			code = exitFailure
			fmt.Fprintf(stderr, "kiln: rank %d failed (%v); stopping the other ranks\n", r.rank, r.err)
			for _, c := range cmds {
				c.Process.Signal(syscall.SIGTERM)
			}
			go func() {
				select {
				case <-time.After(5 * time.Second):
					for _, c := range cmds {
						c.Process.Kill()
					}
				case <-ctx.Done():
				}
			}()
		}
	}
	return code
}

// prefix copies lines from r to w, each prefixed with the rank (except
// for raw, which passes rank 0's stdout through untouched so that --json
// still prints one document).
func prefix(wg *sync.WaitGroup, mu *sync.Mutex, r io.Reader, w io.Writer, rank int, raw bool) {
	defer wg.Done()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		mu.Lock()
		if raw {
			fmt.Fprintln(w, sc.Text())
		} else {
			fmt.Fprintf(w, "[rank %d] %s\n", rank, sc.Text())
		}
		mu.Unlock()
	}
}

// joinGroup connects a worker to its group. With the tcp backend, global
// rank 0 serves the rendezvous store at the endpoint; with etcd, the store
// is an etcd cluster (comma-separated endpoints) where each rank also
// registers its membership under a lease.
func joinGroup(ctx context.Context, w *worker, d distFlags) (*collective.Group, func(), error) {
	var srv *collective.StoreServer
	var st collective.Store
	dctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	switch d.backend {
	case "tcp":
		if w.rank == 0 {
			var err error
			if srv, err = collective.ServeStore(w.rdzv); err != nil {
				return nil, nil, err
			}
		}
		c, err := collective.DialStore(dctx, w.rdzv)
		if err != nil {
			if srv != nil {
				srv.Close()
			}
			return nil, nil, err
		}
		st = c
	case "etcd":
		e, err := collective.DialEtcd(dctx, strings.Split(w.rdzv, ","), "/kiln/"+d.jobID+"/")
		if err != nil {
			return nil, nil, err
		}
		if err := e.Register(dctx, w.rank, 10*time.Second); err != nil {
			e.Close()
			return nil, nil, err
		}
		st = e
	default:
		return nil, nil, fmt.Errorf("unknown rendezvous backend %q (tcp, etcd)", d.backend)
	}
	g, err := collective.Join(ctx, collective.Config{Rank: w.rank, Size: w.world, Store: st, Timeout: d.timeout, Prefix: "kiln/" + d.jobID, Transport: d.transport})
	if err != nil {
		st.Close()
		if srv != nil {
			srv.Close()
		}
		return nil, nil, err
	}
	closeAll := func() {
		g.Close()
		st.Close()
		if srv != nil {
			srv.Close()
		}
	}
	return g, closeAll, nil
}
