package train

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// Environment of a worker process started by Launch, as torchrun's RANK,
// WORLD_SIZE and MASTER_ADDR:MASTER_PORT.
const (
	EnvRank         = "KILN_RANK"
	EnvWorldSize    = "KILN_WORLD_SIZE"
	EnvRdzvEndpoint = "KILN_RDZV_ENDPOINT"
)

// Worker is a process's place in a data-parallel job.
type Worker struct {
	Rank, World int
	Rdzv        string
}

// WorkerFromEnv reads the worker environment through getenv (os.Getenv
// in a process); it returns nil when the process is not a launched
// worker.
func WorkerFromEnv(getenv func(string) string) (*Worker, error) {
	rs, ws := getenv(EnvRank), getenv(EnvWorldSize)
	if rs == "" {
		return nil, nil
	}
	r, err1 := strconv.Atoi(rs)
	w, err2 := strconv.Atoi(ws)
	if err1 != nil || err2 != nil || w < 1 || r < 0 || r >= w {
		return nil, fmt.Errorf("bad %s=%q %s=%q", EnvRank, rs, EnvWorldSize, ws)
	}
	return &Worker{Rank: r, World: w, Rdzv: getenv(EnvRdzvEndpoint)}, nil
}

// LaunchConfig describes the workers Launch starts on this host.
type LaunchConfig struct {
	// Exe and Args are the worker command; each worker gets the same
	// arguments and its rank through the environment.
	Exe  string
	Args []string
	// NProc workers start on this host, which is NodeRank of NNodes:
	// global ranks NodeRank·NProc … NodeRank·NProc+NProc−1 of NNodes·NProc.
	NProc, NNodes, NodeRank int
	Rdzv                    string
	// Env is added to every worker's environment.
	Env []string
	// Stdout receives rank 0's standard output as is (it is the job's);
	// Stderr receives every rank's standard error and the other ranks'
	// standard output, each line prefixed with "[rank R] ".
	Stdout, Stderr io.Writer
	// Grace is how long stopped workers get between SIGTERM and SIGKILL
	// (default 5 s).
	Grace time.Duration
}

// Launch starts the workers, waits for them, and when one fails stops the
// others (SIGTERM, then SIGKILL after the grace period) and returns an
// error naming the first failed rank. Workers die with the launcher
// (Pdeathsig).
func Launch(cfg LaunchConfig) error {
	if cfg.Grace == 0 {
		cfg.Grace = 5 * time.Second
	}
	world := cfg.NNodes * cfg.NProc
	type result struct {
		rank int
		err  error
	}
	results := make(chan result, cfg.NProc)
	var outMu sync.Mutex
	var cmds []*exec.Cmd
	done := make(chan struct{})
	defer close(done)
	for i := 0; i < cfg.NProc; i++ {
		rank := cfg.NodeRank*cfg.NProc + i
		cmd := exec.Command(cfg.Exe, cfg.Args...)
		cmd.Env = append(append(os.Environ(), cfg.Env...),
			EnvRank+"="+strconv.Itoa(rank), EnvWorldSize+"="+strconv.Itoa(world), EnvRdzvEndpoint+"="+cfg.Rdzv)
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		so, _ := cmd.StdoutPipe()
		se, _ := cmd.StderrPipe()
		if err := cmd.Start(); err != nil {
			for _, c := range cmds {
				c.Process.Kill()
			}
			return fmt.Errorf("launch rank %d: %w", rank, err)
		}
		cmds = append(cmds, cmd)
		var pipes sync.WaitGroup
		pipes.Add(2)
		go prefixLines(&pipes, &outMu, so, cfg.Stdout, cfg.Stderr, rank, rank == 0)
		go prefixLines(&pipes, &outMu, se, cfg.Stderr, cfg.Stderr, rank, false)
		go func(rank int, cmd *exec.Cmd) {
			pipes.Wait()
			results <- result{rank, cmd.Wait()}
		}(rank, cmd)
	}
	var first error
	for range cmds {
		r := <-results
		if r.err == nil || first != nil {
			continue
		}
		first = fmt.Errorf("rank %d failed (%v); the other ranks were stopped", r.rank, r.err)
		outMu.Lock()
		fmt.Fprintf(cfg.Stderr, "kiln: rank %d failed (%v); stopping the other ranks\n", r.rank, r.err)
		outMu.Unlock()
		for _, c := range cmds {
			c.Process.Signal(syscall.SIGTERM)
		}
		go func() {
			select {
			case <-time.After(cfg.Grace):
				for _, c := range cmds {
					c.Process.Kill()
				}
			case <-done:
			}
		}()
	}
	return first
}

// prefixLines copies lines from r, each prefixed with the rank, to w (or,
// for rank 0's stdout, as is to raw, so that --json still prints one
// document).
func prefixLines(wg *sync.WaitGroup, mu *sync.Mutex, r io.Reader, raw, w io.Writer, rank int, passThrough bool) {
	defer wg.Done()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		mu.Lock()
		if passThrough {
			fmt.Fprintln(raw, sc.Text())
		} else {
			fmt.Fprintf(w, "[rank %d] %s\n", rank, sc.Text())
		}
		mu.Unlock()
	}
}
