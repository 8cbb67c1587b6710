package collective

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
	"unsafe"
)

// Config describes one member of a process group.
type Config struct {
	// Rank is this process's rank in [0, Size).
	Rank, Size int
	// Store is the rendezvous store (see ServeStore and DialStore).
	Store Store
	// Host is the address other ranks reach this one at (default
	// 127.0.0.1); the port is chosen by the system.
	Host string
	// Timeout bounds every collective and the rendezvous (default 30 s):
	// a peer that dies or stalls makes the operation fail with an error
	// naming it instead of hanging.
	Timeout time.Duration
	// Prefix namespaces the store keys, so that one store can serve
	// several groups (default "kiln").
	Prefix string
	// Transport is "tcp" (the default: every peer over TCP) or "auto":
	// peers on the same machine connect over a Unix socket, which skips
	// the TCP/IP stack of loopback (as NCCL and MPI use shared memory
	// within a node), and the others over TCP.
	Transport string
}

// Group is a connected process group: a connection to every peer. Its
// collectives must be called one at a time (from one goroutine, or in
// turn), in the same order on every rank.
type Group struct {
	rank, size int
	timeout    time.Duration
	peers      []net.Conn // indexed by rank; nil for self
	ln, uln    net.Listener
	closeOnce  sync.Once
	scratch    []float32
}

// Rank returns this process's rank.
func (g *Group) Rank() int { return g.rank }

// Size returns the number of ranks.
func (g *Group) Size() int { return g.size }

// Join performs the rendezvous and connects to every peer. Each rank
// publishes its address and world size; a rank that joins twice, or a rank
// whose world size differs from rank 0's, is refused with an error saying
// so. Rank i dials every rank below it and accepts every rank above.
func Join(ctx context.Context, cfg Config) (*Group, error) {
	if cfg.Size < 1 || cfg.Rank < 0 || cfg.Rank >= cfg.Size {
		return nil, fmt.Errorf("collective: rank %d outside a world of %d", cfg.Rank, cfg.Size)
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.Host == "" {
		cfg.Host = "127.0.0.1"
	}
	if cfg.Prefix == "" {
		cfg.Prefix = "kiln"
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	key := func(parts ...any) string {
		s := cfg.Prefix
		for _, p := range parts {
			s += "/" + fmt.Sprint(p)
		}
		return s
	}
	if cfg.Transport == "" {
		cfg.Transport = "tcp"
	}
	if cfg.Transport != "tcp" && cfg.Transport != "auto" {
		return nil, fmt.Errorf("collective: unknown transport %q (tcp, auto)", cfg.Transport)
	}
	g := &Group{rank: cfg.Rank, size: cfg.Size, timeout: cfg.Timeout, peers: make([]net.Conn, cfg.Size)}
	if n, err := cfg.Store.Add(ctx, key("joined", cfg.Rank), 1); err != nil {
		return nil, fmt.Errorf("collective: rendezvous: %w", err)
	} else if n > 1 {
		return nil, fmt.Errorf("collective: rendezvous: rank %d has already joined this group (a second rank %d?)", cfg.Rank, cfg.Rank)
	}
	if cfg.Rank == 0 {
		if err := cfg.Store.Set(ctx, key("size"), []byte(strconv.Itoa(cfg.Size))); err != nil {
			return nil, fmt.Errorf("collective: rendezvous: %w", err)
		}
	} else {
		v, err := cfg.Store.Get(ctx, key("size"))
		if err != nil {
			return nil, fmt.Errorf("collective: rendezvous: waiting for rank 0: %w", err)
		}
		if n, _ := strconv.Atoi(string(v)); n != cfg.Size {
			return nil, fmt.Errorf("collective: rendezvous: rank %d was started with world size %d, rank 0 with %d", cfg.Rank, cfg.Size, n)
		}
	}
	if cfg.Size == 1 {
		return g, nil
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(cfg.Host, "0"))
	if err != nil {
		return nil, fmt.Errorf("collective: rank %d: listen: %w", cfg.Rank, err)
	}
	g.ln = ln
	addr := ln.Addr().String()
	if cfg.Transport == "auto" {
		// An abstract Unix socket (no file to clean up), published with
		// this machine's boot id so that only processes on the same
		// machine try it.
		path := fmt.Sprintf("@kiln-%d-%d-%d", os.Getpid(), cfg.Rank, time.Now().UnixNano())
		if uln, err := net.Listen("unix", path); err == nil {
			g.uln = uln
			addr += "|" + machineID() + "|" + path
		}
	}
	if err := cfg.Store.Set(ctx, key("addr", cfg.Rank), []byte(addr)); err != nil {
		g.Close()
		return nil, fmt.Errorf("collective: rendezvous: %w", err)
	}
	errc := make(chan error, 2)
	go func() { errc <- g.acceptPeers(ctx) }()
	go func() {
		for p := 0; p < cfg.Rank; p++ {
			addr, err := cfg.Store.Get(ctx, key("addr", p))
			if err != nil {
				errc <- fmt.Errorf("collective: rendezvous: address of rank %d: %w", p, err)
				return
			}
			c, err := dialPeer(ctx, string(addr))
			if err != nil {
				errc <- fmt.Errorf("collective: rank %d: connect to rank %d at %s: %w", cfg.Rank, p, addr, err)
				return
			}
			var hello [8]byte
			binary.LittleEndian.PutUint32(hello[:], uint32(cfg.Rank))
			binary.LittleEndian.PutUint32(hello[4:], uint32(cfg.Size))
			if _, err := c.Write(hello[:]); err != nil {
				errc <- fmt.Errorf("collective: rank %d: handshake with rank %d: %w", cfg.Rank, p, err)
				return
			}
			tune(c)
			g.peers[p] = c
		}
		errc <- nil
	}()
	for i := 0; i < 2; i++ {
		if err := <-errc; err != nil {
			cancel()
			g.Close()
			return nil, err
		}
	}
	// Every peer is connected: no one else may join.
	g.ln.Close()
	if g.uln != nil {
		g.uln.Close()
	}
	return g, nil
}

// dialPeer connects to a peer's published address: over its Unix socket
// when it runs on this machine, else (or when that fails) over TCP.
func dialPeer(ctx context.Context, addr string) (net.Conn, error) {
	var d net.Dialer
	parts := strings.Split(addr, "|")
	if len(parts) == 3 && parts[1] == machineID() {
		if c, err := d.DialContext(ctx, "unix", parts[2]); err == nil {
			return c, nil
		}
	}
	return d.DialContext(ctx, "tcp", parts[0])
}

// machineID identifies this boot of this machine (and network namespace,
// whose abstract Unix sockets a peer can reach).
func machineID() string {
	b, _ := os.ReadFile("/proc/sys/kernel/random/boot_id")
	h, _ := os.Hostname()
	ns, _ := os.Readlink("/proc/self/ns/net")
	return strings.TrimSpace(string(b)) + "/" + h + "/" + ns
}

func (g *Group) acceptPeers(ctx context.Context) error {
	conns := make(chan net.Conn)
	errs := make(chan error, 2)
	lns := []net.Listener{g.ln}
	if g.uln != nil {
		lns = append(lns, g.uln)
	}
	for _, ln := range lns {
		go func(ln net.Listener) {
			for {
				c, err := ln.Accept()
				if err != nil {
					errs <- err
					return
				}
				select {
				case conns <- c:
				case <-ctx.Done():
					c.Close()
					return
				}
			}
		}(ln)
	}
	for n := g.size - 1 - g.rank; n > 0; n-- {
		var c net.Conn
		select {
		case c = <-conns:
		case err := <-errs:
			return fmt.Errorf("collective: rank %d: waiting for higher ranks: %w", g.rank, err)
		case <-ctx.Done():
			return fmt.Errorf("collective: rank %d: waiting for higher ranks: %w", g.rank, ctx.Err())
		}
		var hello [8]byte
		c.SetDeadline(time.Now().Add(g.timeout))
		if _, err := io.ReadFull(c, hello[:]); err != nil {
			c.Close()
			return fmt.Errorf("collective: rank %d: handshake: %w", g.rank, err)
		}
		c.SetDeadline(time.Time{})
		r, size := int(binary.LittleEndian.Uint32(hello[:])), int(binary.LittleEndian.Uint32(hello[4:]))
		if size != g.size || r <= g.rank || r >= g.size || g.peers[r] != nil {
			c.Close()
			return fmt.Errorf("collective: rank %d: refused a peer claiming rank %d of %d", g.rank, r, size)
		}
		tune(c)
		g.peers[r] = c
	}
	return nil
}

func tune(c net.Conn) {
	if uc, ok := c.(*net.UnixConn); ok {
		uc.SetWriteBuffer(4 << 20)
		uc.SetReadBuffer(4 << 20)
	}
	if tc, ok := c.(*net.TCPConn); ok {
		// The receive buffer is left to the kernel's autotuning, which
		// grows it past what SO_RCVBUF may be set to (setting it turns
		// autotuning off); the send buffer starts at 16 KiB by default,
		// which makes every message of a few hundred KiB wait for window
		// updates, so it is set large.
		tc.SetNoDelay(true)
		tc.SetWriteBuffer(4 << 20)
	}
}

// Close closes every connection.
func (g *Group) Close() error {
	g.closeOnce.Do(func() {
		for _, c := range g.peers {
			if c != nil {
				c.Close()
			}
		}
		if g.ln != nil {
			g.ln.Close()
		}
		if g.uln != nil {
			g.uln.Close()
		}
	})
	return nil
}

// PeerError reports a failed exchange with a peer.
type PeerError struct {
	Rank, Peer int
	Op         string
	Err        error
}

func (e *PeerError) Error() string {
	return fmt.Sprintf("collective: rank %d: %s rank %d: %v", e.Rank, e.Op, e.Peer, e.Err)
}

func (e *PeerError) Unwrap() error { return e.Err }

func (g *Group) peerErr(op string, peer int, err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		err = fmt.Errorf("connection closed (rank %d exited or died)", peer)
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		err = fmt.Errorf("no progress within %v (rank %d stalled or died)", g.timeout, peer)
	}
	return &PeerError{Rank: g.rank, Peer: peer, Op: op, Err: err}
}

func bytesOf(x []float32) []byte {
	if len(x) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&x[0])), 4*len(x))
}

// sendFloats writes a frame: the element count (u64) then the values.
func (g *Group) sendFloats(peer int, x []float32) error {
	c := g.peers[peer]
	c.SetWriteDeadline(time.Now().Add(g.timeout))
	var hdr [8]byte
	binary.LittleEndian.PutUint64(hdr[:], uint64(len(x)))
	if _, err := c.Write(hdr[:]); err != nil {
		return g.peerErr("send to", peer, err)
	}
	if _, err := c.Write(bytesOf(x)); err != nil {
		return g.peerErr("send to", peer, err)
	}
	return nil
}

// recvHeader reads a frame header and checks its length against want.
func (g *Group) recvHeader(peer, want int) error {
	c := g.peers[peer]
	c.SetReadDeadline(time.Now().Add(g.timeout))
	var hdr [8]byte
	if _, err := io.ReadFull(c, hdr[:]); err != nil {
		return g.peerErr("receive from", peer, err)
	}
	if n := binary.LittleEndian.Uint64(hdr[:]); n != uint64(want) {
		return &PeerError{Rank: g.rank, Peer: peer, Op: "receive from",
			Err: fmt.Errorf("size mismatch: rank %d sent %d values, rank %d expected %d (tensors of different sizes on different ranks?)", peer, n, g.rank, want)}
	}
	return nil
}

// recvFloats reads a frame of exactly len(x) values into x.
func (g *Group) recvFloats(peer int, x []float32) error {
	if err := g.recvHeader(peer, len(x)); err != nil {
		return err
	}
	if _, err := io.ReadFull(g.peers[peer], bytesOf(x)); err != nil {
		return g.peerErr("receive from", peer, err)
	}
	return nil
}

// recvReduce reads a frame of len(x) values and adds them into x, chunk by
// chunk as they arrive, so that the reduction overlaps the transfer.
func (g *Group) recvReduce(peer int, x, scratch []float32) error {
	if err := g.recvHeader(peer, len(x)); err != nil {
		return err
	}
	c := g.peers[peer]
	for off := 0; off < len(x); {
		n := min(len(scratch), len(x)-off)
		c.SetReadDeadline(time.Now().Add(g.timeout))
		if _, err := io.ReadFull(c, bytesOf(scratch[:n])); err != nil {
			return g.peerErr("receive from", peer, err)
		}
		addInto(x[off:off+n], scratch[:n])
		off += n
	}
	return nil
}

// addInto adds src into dst, eight values per iteration (the reduction
// runs while the next chunk arrives, so it must keep up with the socket).
func addInto(dst, src []float32) {
	src = src[:len(dst)]
	i := 0
	for ; i+8 <= len(dst); i += 8 {
		d, s := dst[i:i+8:i+8], src[i:i+8:i+8]
		d[0] += s[0]
		d[1] += s[1]
		d[2] += s[2]
		d[3] += s[3]
		d[4] += s[4]
		d[5] += s[5]
		d[6] += s[6]
		d[7] += s[7]
	}
	for ; i < len(dst); i++ {
		dst[i] += src[i]
	}
}

// exchange sends out to one peer while receiving from another (they may
// be the same), with recv doing the receiving.
func (g *Group) exchange(to int, out []float32, recv func() error) error {
	errc := make(chan error, 1)
	go func() { errc <- g.sendFloats(to, out) }()
	rerr := recv()
	serr := <-errc
	if rerr != nil {
		return rerr
	}
	return serr
}
