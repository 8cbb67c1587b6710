// Package ps is a parameter server (Li et al., "Scaling Distributed
// Machine Learning with the Parameter Server", OSDI 2014): the model's
// parameters are sharded across S servers, each owning its shard's
// optimizer; workers pull weights, compute gradients on their own data and
// push the gradients back.
//
// Three consistency models: Sync (a server applies the average of all W
// workers' gradients for clock c, then serves clock c+1: equivalent to
// synchronous data parallelism), Async (each push is applied on arrival,
// scaled by 1/W, and pulls never wait, as Hogwild-style PS) and SSP, stale
// synchronous parallel (Ho et al., NIPS 2013): pushes are applied on
// arrival, but a worker at clock c may pull only once the slowest worker
// has reached c − s, so no worker runs more than s clocks ahead.
//
// The server is a value that takes messages and returns values
// (Server.push, Server.pull); Serve wraps it in TCP connections.
package ps

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"sync"
	"time"
	"unsafe"
)

// Mode is a consistency model.
type Mode int

// The consistency models.
const (
	Sync Mode = iota
	Async
	SSP
)

func (m Mode) String() string { return [...]string{"sync", "async", "ssp"}[m] }

// ParseMode parses "sync", "async" or "ssp".
func ParseMode(s string) (Mode, error) {
	for m := Sync; m <= SSP; m++ {
		if m.String() == s {
			return m, nil
		}
	}
	return 0, fmt.Errorf("ps: unknown mode %q (sync, async, ssp)", s)
}

// Config configures a server.
type Config struct {
	Mode      Mode
	Staleness int // SSP's bound s
	Workers   int
	LR        float64
	Momentum  float64
	Timeout   time.Duration // how long a pull may wait (default 60 s)
}

// Server holds one shard: a flat vector of parameters with its momentum.
type Server struct {
	cfg     Config
	mu      sync.Mutex
	cond    *sync.Cond
	w, buf  []float32
	acc     []float32 // Sync: sum of this clock's gradients
	pushed  int       // Sync: pushes received for the current clock
	version int       // Sync: clocks applied
	clocks  []int     // each worker's clock (pushes done)
	// MaxLead records the largest lead, in clocks, that any worker had
	// over the slowest when a pull was granted (for tests of the bound).
	MaxLead int
	closed  bool
}

// NewServer returns a server for the shard whose initial values are w.
func NewServer(w []float32, cfg Config) (*Server, error) {
	if cfg.Workers < 1 {
		return nil, fmt.Errorf("ps: %d workers", cfg.Workers)
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 60 * time.Second
	}
	s := &Server{cfg: cfg, w: append([]float32(nil), w...), buf: make([]float32, len(w)), acc: make([]float32, len(w)), clocks: make([]int, cfg.Workers)}
	s.cond = sync.NewCond(&s.mu)
	return s, nil
}

func (s *Server) minClock() int {
	m := math.MaxInt
	for _, c := range s.clocks {
		m = min(m, c)
	}
	return m
}

// apply runs one SGD-with-momentum update with gradient g·scale.
func (s *Server) apply(g []float32, scale float32) {
	lr, mom := float32(s.cfg.LR), float32(s.cfg.Momentum)
	for i, v := range g {
		b := mom*s.buf[i] + v*scale
		s.buf[i] = b
		s.w[i] -= lr * b
	}
}

// pull copies the weights a worker at clock c may see into out, waiting as
// the mode requires.
func (s *Server) pull(worker, c int, out []float32) error {
	if len(out) != len(s.w) {
		return fmt.Errorf("ps: pull of %d values from a shard of %d", len(out), len(s.w))
	}
	deadline := time.Now().Add(s.cfg.Timeout)
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		ok := true
		switch s.cfg.Mode {
		case Sync:
			ok = s.version >= c
		case SSP:
			ok = s.minClock() >= c-s.cfg.Staleness
		}
		if ok || s.closed {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("ps: worker %d waited %v at clock %d for the slowest worker (clock %d)", worker, s.cfg.Timeout, c, s.minClock())
		}
		waitTimeout(s.cond, 100*time.Millisecond)
	}
	if lead := c - s.minClock(); lead > s.MaxLead {
		s.MaxLead = lead
	}
	copy(out, s.w)
	return nil
}

// push receives worker's gradient for its clock c.
func (s *Server) push(worker, c int, g []float32) error {
	if len(g) != len(s.w) {
		return fmt.Errorf("ps: push of %d values to a shard of %d", len(g), len(s.w))
	}
	if worker < 0 || worker >= len(s.clocks) {
		return fmt.Errorf("ps: worker %d outside [0, %d)", worker, len(s.clocks))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch s.cfg.Mode {
	case Sync:
		for i, v := range g {
			s.acc[i] += v
		}
		if s.pushed++; s.pushed == s.cfg.Workers {
			s.apply(s.acc, 1/float32(s.cfg.Workers))
			clear(s.acc)
			s.pushed = 0
			s.version++
		}
	default:
		s.apply(g, 1/float32(s.cfg.Workers))
	}
	s.clocks[worker] = c + 1
	s.cond.Broadcast()
	return nil
}

// Weights returns a copy of the shard's current values.
func (s *Server) Weights() []float32 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]float32(nil), s.w...)
}

func waitTimeout(c *sync.Cond, d time.Duration) {
	t := time.AfterFunc(d, c.Broadcast)
	c.Wait()
	t.Stop()
}

// Wire format of a request: op (1 byte), worker (u32), clock (u64),
// count (u64), then count float32 values for a push. A pull's reply is
// status (1 byte) and count values; a push's reply is status. A non-zero
// status is followed by a u32-length message.
const (
	opPull byte = 1
	opPush byte = 2
)

// Serve accepts workers on ln until it is closed.
func (s *Server) Serve(ln net.Listener) error {
	var wg sync.WaitGroup
	defer func() {
		s.mu.Lock()
		s.closed = true
		s.cond.Broadcast()
		s.mu.Unlock()
		wg.Wait()
	}()
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			return err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer c.Close()
			s.serveConn(c)
		}()
	}
}

func (s *Server) serveConn(c net.Conn) {
	var hdr [21]byte
	buf := make([]float32, len(s.w))
	for {
		if _, err := io.ReadFull(c, hdr[:]); err != nil {
			return
		}
		op, worker := hdr[0], int(binary.LittleEndian.Uint32(hdr[1:]))
		clock, n := int(binary.LittleEndian.Uint64(hdr[5:])), int(binary.LittleEndian.Uint64(hdr[13:]))
		var err error
		switch op {
		case opPull:
			if err = s.pull(worker, clock, buf); err == nil {
				if _, werr := c.Write(append([]byte{0}, floatBytes(buf)...)); werr != nil {
					return
				}
				continue
			}
		case opPush:
			if n != len(buf) {
				err = fmt.Errorf("ps: push of %d values to a shard of %d", n, len(buf))
				io.CopyN(io.Discard, c, int64(4*n))
			} else if _, rerr := io.ReadFull(c, floatBytes(buf)); rerr != nil {
				return
			} else {
				err = s.push(worker, clock, buf)
			}
			if err == nil {
				if _, werr := c.Write([]byte{0}); werr != nil {
					return
				}
				continue
			}
		default:
			err = fmt.Errorf("ps: unknown op %d", op)
		}
		msg := []byte(err.Error())
		out := append([]byte{1}, binary.LittleEndian.AppendUint32(nil, uint32(len(msg)))...)
		c.Write(append(out, msg...))
	}
}

func floatBytes(x []float32) []byte {
	if len(x) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&x[0])), 4*len(x))
}
