package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/kiln-ml/kiln/collective"
	"github.com/kiln-ml/kiln/train"
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
type worker = train.Worker

func workerFromEnv() (*worker, error) { return train.WorkerFromEnv(os.Getenv) }

// launch starts nproc worker processes of this binary with the same
// arguments (see train.Launch) and returns the job's exit code.
func launch(args []string, d distFlags, stdout, stderr io.Writer, env ...string) int {
	exe, err := os.Executable()
	if err != nil {
		return fail(stderr, "launch: %v", err)
	}
	err = train.Launch(train.LaunchConfig{Exe: exe, Args: append([]string{"train"}, args...), NProc: d.nproc, NNodes: d.nnodes,
		NodeRank: d.nodeRank, Rdzv: d.rdzv, Env: env, Stdout: stdout, Stderr: stderr})
	if err != nil {
		return exitFailure
	}
	return exitOK
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
		if w.Rank == 0 {
			var err error
			if srv, err = collective.ServeStore(w.Rdzv); err != nil {
				return nil, nil, err
			}
		}
		c, err := collective.DialStore(dctx, w.Rdzv)
		if err != nil {
			if srv != nil {
				srv.Close()
			}
			return nil, nil, err
		}
		st = c
	case "etcd":
		e, err := collective.DialEtcd(dctx, strings.Split(w.Rdzv, ","), "/kiln/"+d.jobID+"/")
		if err != nil {
			return nil, nil, err
		}
		if err := e.Register(dctx, w.Rank, 10*time.Second); err != nil {
			e.Close()
			return nil, nil, err
		}
		st = e
	default:
		return nil, nil, fmt.Errorf("unknown rendezvous backend %q (tcp, etcd)", d.backend)
	}
	g, err := collective.Join(ctx, collective.Config{Rank: w.Rank, Size: w.World, Store: st, Timeout: d.timeout, Prefix: "kiln/" + d.jobID, Transport: d.transport})
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
