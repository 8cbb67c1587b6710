package collective

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"time"
)

// Store is the rendezvous key-value store: ranks publish their addresses
// and wait for each other's.
type Store interface {
	// Set stores value under key.
	Set(ctx context.Context, key string, value []byte) error
	// Get returns the value of key, waiting until it is set or ctx ends.
	Get(ctx context.Context, key string) ([]byte, error)
	// Add adds delta to the integer under key (0 when unset) and returns
	// the new value.
	Add(ctx context.Context, key string, delta int64) (int64, error)
	Close() error
}

// Store wire protocol: each request is op (1 byte), key (u32 length +
// bytes), value (u32 length + bytes); each reply is status (1 byte: 0 ok,
// 1 error) and a value (u32 length + bytes).
const (
	opSet byte = 1
	opGet byte = 2
	opAdd byte = 3
)

// StoreServer serves a Store over TCP. Rank 0 runs it.
type StoreServer struct {
	ln     net.Listener
	mu     sync.Mutex
	cond   *sync.Cond
	kv     map[string][]byte
	closed bool
	wg     sync.WaitGroup
	conns  map[net.Conn]bool
}

// ServeStore listens on addr (host:port; port 0 picks one) and serves
// until Close.
func ServeStore(addr string) (*StoreServer, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("store: listen %s: %w", addr, err)
	}
	s := &StoreServer{ln: ln, kv: map[string][]byte{}, conns: map[net.Conn]bool{}}
	s.cond = sync.NewCond(&s.mu)
	s.wg.Add(1)
	go s.accept()
	return s, nil
}

// Addr returns the address the store listens on.
func (s *StoreServer) Addr() string { return s.ln.Addr().String() }

// Close stops the server and its connections.
func (s *StoreServer) Close() error {
	s.mu.Lock()
	s.closed = true
	for c := range s.conns {
		c.Close()
	}
	s.cond.Broadcast()
	s.mu.Unlock()
	err := s.ln.Close()
	s.wg.Wait()
	return err
}

func (s *StoreServer) accept() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			c.Close()
			return
		}
		s.conns[c] = true
		s.mu.Unlock()
		s.wg.Add(1)
		go s.serve(c)
	}
}

func (s *StoreServer) serve(c net.Conn) {
	defer s.wg.Done()
	defer func() {
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
		c.Close()
	}()
	r := bufio.NewReader(c)
	for {
		op, err := r.ReadByte()
		if err != nil {
			return
		}
		key, err := readBlob(r)
		if err != nil {
			return
		}
		val, err := readBlob(r)
		if err != nil {
			return
		}
		var reply []byte
		status := byte(0)
		switch op {
		case opSet:
			s.mu.Lock()
			s.kv[string(key)] = val
			s.cond.Broadcast()
			s.mu.Unlock()
		case opGet:
			s.mu.Lock()
			for {
				v, ok := s.kv[string(key)]
				if ok || s.closed {
					reply = v
					break
				}
				s.cond.Wait()
			}
			closed := s.closed
			s.mu.Unlock()
			if closed {
				return
			}
		case opAdd:
			delta, perr := strconv.ParseInt(string(val), 10, 64)
			if perr != nil {
				status, reply = 1, []byte("bad delta")
				break
			}
			s.mu.Lock()
			cur, _ := strconv.ParseInt(string(s.kv[string(key)]), 10, 64)
			cur += delta
			s.kv[string(key)] = []byte(strconv.FormatInt(cur, 10))
			s.cond.Broadcast()
			s.mu.Unlock()
			reply = []byte(strconv.FormatInt(cur, 10))
		default:
			status, reply = 1, []byte(fmt.Sprintf("unknown op %d", op))
		}
		if err := writeReply(c, status, reply); err != nil {
			return
		}
	}
}

func readBlob(r io.Reader) ([]byte, error) {
	var n [4]byte
	if _, err := io.ReadFull(r, n[:]); err != nil {
		return nil, err
	}
	l := binary.LittleEndian.Uint32(n[:])
	if l > 64<<20 {
		return nil, fmt.Errorf("store: %d-byte field exceeds 64 MiB", l)
	}
	b := make([]byte, l)
	_, err := io.ReadFull(r, b)
	return b, err
}

func writeBlob(w io.Writer, b []byte) error {
	var n [4]byte
	binary.LittleEndian.PutUint32(n[:], uint32(len(b)))
	if _, err := w.Write(n[:]); err != nil {
		return err
	}
	_, err := w.Write(b)
	return err
}

func writeReply(w io.Writer, status byte, v []byte) error {
	buf := make([]byte, 0, 5+len(v))
	buf = append(buf, status)
	buf = binary.LittleEndian.AppendUint32(buf, uint32(len(v)))
	buf = append(buf, v...)
	_, err := w.Write(buf)
	return err
}

// StoreClient talks to a StoreServer. It is safe for concurrent use (one
// request at a time).
type StoreClient struct {
	mu   sync.Mutex
	addr string
	c    net.Conn
	r    *bufio.Reader
}

// DialStore connects to the store at addr, retrying until ctx ends (rank 0
// may not be listening yet).
func DialStore(ctx context.Context, addr string) (*StoreClient, error) {
	var d net.Dialer
	for {
		c, err := d.DialContext(ctx, "tcp", addr)
		if err == nil {
			return &StoreClient{addr: addr, c: c, r: bufio.NewReader(c)}, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("store: connect %s: %w (last error: %v)", addr, ctx.Err(), err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (s *StoreClient) do(ctx context.Context, op byte, key string, val []byte) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if dl, ok := ctx.Deadline(); ok {
		s.c.SetDeadline(dl)
	} else {
		s.c.SetDeadline(time.Time{})
	}
	stop := context.AfterFunc(ctx, func() { s.c.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	req := []byte{op}
	req = binary.LittleEndian.AppendUint32(req, uint32(len(key)))
	req = append(req, key...)
	req = binary.LittleEndian.AppendUint32(req, uint32(len(val)))
	req = append(req, val...)
	if _, err := s.c.Write(req); err != nil {
		return nil, s.fail(ctx, key, err)
	}
	status, err := s.r.ReadByte()
	if err != nil {
		return nil, s.fail(ctx, key, err)
	}
	v, err := readBlob(s.r)
	if err != nil {
		return nil, s.fail(ctx, key, err)
	}
	if status != 0 {
		return nil, fmt.Errorf("store %s: %q: %s", s.addr, key, v)
	}
	return v, nil
}

func (s *StoreClient) fail(ctx context.Context, key string, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("store %s: %q: %w", s.addr, key, ctx.Err())
	}
	if errors.Is(err, io.EOF) {
		return fmt.Errorf("store %s: %q: the store closed the connection (rank 0 gone?)", s.addr, key)
	}
	return fmt.Errorf("store %s: %q: %w", s.addr, key, err)
}

// Set implements Store.
func (s *StoreClient) Set(ctx context.Context, key string, value []byte) error {
	_, err := s.do(ctx, opSet, key, value)
	return err
}

// Get implements Store.
func (s *StoreClient) Get(ctx context.Context, key string) ([]byte, error) {
	return s.do(ctx, opGet, key, nil)
}

// Add implements Store.
func (s *StoreClient) Add(ctx context.Context, key string, delta int64) (int64, error) {
	v, err := s.do(ctx, opAdd, key, []byte(strconv.FormatInt(delta, 10)))
	if err != nil {
		return 0, err
	}
	return strconv.ParseInt(string(v), 10, 64)
}

// Close implements Store.
func (s *StoreClient) Close() error { return s.c.Close() }
