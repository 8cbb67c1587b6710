package ps

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/kiln-ml/kiln/nn"
)

// Shard assigns parameter i of a model to server i mod S, and lays each
// server's parameters out back to back.
func Shard(params []*nn.Param, servers int) [][]*nn.Param {
	out := make([][]*nn.Param, servers)
	for i, p := range params {
		out[i%servers] = append(out[i%servers], p)
	}
	return out
}

// Flat returns the concatenated values (or gradients) of ps.
func Flat(ps []*nn.Param, grad bool) []float32 {
	var out []float32
	for _, p := range ps {
		if grad {
			out = append(out, p.Grad.Data...)
		} else {
			out = append(out, p.Data.Data...)
		}
	}
	return out
}

// Client is a worker's connection to every server.
type Client struct {
	worker  int
	shards  [][]*nn.Param
	conns   []net.Conn
	buf     [][]float32
	clock   int
	timeout time.Duration
}

// Dial connects worker to the servers at addrs; params are the worker's
// model parameters, sharded as Shard does.
func Dial(worker int, addrs []string, params []*nn.Param, timeout time.Duration) (*Client, error) {
	c := &Client{worker: worker, shards: Shard(params, len(addrs)), timeout: timeout}
	for i, a := range addrs {
		conn, err := net.DialTimeout("tcp", a, timeout)
		if err != nil {
			c.Close()
			return nil, fmt.Errorf("ps: worker %d: connect to server %d at %s: %w", worker, i, a, err)
		}
		c.conns = append(c.conns, conn)
		n := 0
		for _, p := range c.shards[i] {
			n += len(p.Data.Data)
		}
		c.buf = append(c.buf, make([]float32, n))
	}
	return c, nil
}

// Clock returns how many pushes this worker has made.
func (c *Client) Clock() int { return c.clock }

func (c *Client) request(i int, op byte, payload []float32, n int) error {
	conn := c.conns[i]
	conn.SetDeadline(time.Now().Add(c.timeout))
	var hdr [21]byte
	hdr[0] = op
	binary.LittleEndian.PutUint32(hdr[1:], uint32(c.worker))
	binary.LittleEndian.PutUint64(hdr[5:], uint64(c.clock))
	binary.LittleEndian.PutUint64(hdr[13:], uint64(n))
	if _, err := conn.Write(append(hdr[:], floatBytes(payload)...)); err != nil {
		return fmt.Errorf("ps: worker %d: server %d: %w", c.worker, i, err)
	}
	var st [1]byte
	if _, err := io.ReadFull(conn, st[:]); err != nil {
		return fmt.Errorf("ps: worker %d: server %d: %w", c.worker, i, err)
	}
	if st[0] != 0 {
		var l [4]byte
		io.ReadFull(conn, l[:])
		msg := make([]byte, binary.LittleEndian.Uint32(l[:]))
		io.ReadFull(conn, msg)
		return fmt.Errorf("ps: worker %d: server %d: %s", c.worker, i, msg)
	}
	return nil
}

// Pull fetches the weights this worker may see at its clock from every
// server into the model's parameters.
func (c *Client) Pull() error {
	for i := range c.conns {
		if err := c.request(i, opPull, nil, 0); err != nil {
			return err
		}
		if _, err := io.ReadFull(c.conns[i], floatBytes(c.buf[i])); err != nil {
			return fmt.Errorf("ps: worker %d: server %d: %w", c.worker, i, err)
		}
		off := 0
		for _, p := range c.shards[i] {
			off += copy(p.Data.Data, c.buf[i][off:off+len(p.Data.Data)])
		}
	}
	return nil
}

// Push sends the model's gradients to every server and advances the
// clock.
func (c *Client) Push() error {
	for i := range c.conns {
		g := c.buf[i][:0]
		for _, p := range c.shards[i] {
			if p.HasGrad {
				g = append(g, p.Grad.Data...)
			} else {
				g = append(g, make([]float32, len(p.Data.Data))...)
			}
		}
		if err := c.request(i, opPush, g, len(g)); err != nil {
			return err
		}
	}
	c.clock++
	return nil
}

// Close closes the connections.
func (c *Client) Close() error {
	for _, conn := range c.conns {
		conn.Close()
	}
	return nil
}
