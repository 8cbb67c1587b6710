package main

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"net"
	"sort"
	"strconv"
	"sync"
	"time"
)

// restRequests pre-encodes one HTTP/1.1 request per group of rows images:
// the Open Inference Protocol's REST infer call with the binary tensor
// data extension (raw FP32 input after a short JSON header, the class
// output asked back as 8 raw bytes a row). Encoding them once keeps the
// generator's cost per request to a write and a read.
func restRequests(model string, x []float32, rows int) [][]byte {
	n := len(x) / 784 / rows
	out := make([][]byte, n)
	hdr := fmt.Sprintf(`{"inputs":[{"name":"input","shape":[%d,784],"datatype":"FP32","parameters":{"binary_data_size":%d}}],`+
		`"outputs":[{"name":"class","parameters":{"binary_data":true}}]}`, rows, 4*784*rows)
	for i := range out {
		var b bytes.Buffer
		fmt.Fprintf(&b, "POST /v2/models/%s/infer HTTP/1.1\r\nHost: kiln\r\nContent-Type: application/octet-stream\r\n"+
			"Inference-Header-Content-Length: %d\r\nContent-Length: %d\r\n\r\n", model, len(hdr), len(hdr)+4*784*rows)
		b.WriteString(hdr)
		raw := make([]byte, 4*784*rows)
		for j, v := range x[i*784*rows : (i+1)*784*rows] {
			binary.LittleEndian.PutUint32(raw[4*j:], math.Float32bits(v))
		}
		b.Write(raw)
		out[i] = b.Bytes()
	}
	return out
}

// restConn is one keep-alive HTTP/1.1 connection of the generator.
type restConn struct {
	c net.Conn
	r *bufio.Reader
}

func dialREST(addr string) (*restConn, error) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	return &restConn{c: c, r: bufio.NewReaderSize(c, 16<<10)}, nil
}

// roundTrip sends one pre-encoded request and reads the response's status
// and body length, discarding the body: the generator checks the status
// only (the conformance tests check the bodies).
func (rc *restConn) roundTrip(req []byte) (int, error) {
	if _, err := rc.c.Write(req); err != nil {
		return 0, err
	}
	line, err := rc.r.ReadSlice('\n')
	if err != nil {
		return 0, err
	}
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.1 ")) {
		return 0, fmt.Errorf("bad status line %q", line)
	}
	code, err := strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, fmt.Errorf("bad status line %q", line)
	}
	length := -1
	for {
		h, err := rc.r.ReadSlice('\n')
		if err != nil {
			return 0, err
		}
		if len(h) <= 2 {
			break
		}
		if len(h) > 16 && (h[0] == 'C' || h[0] == 'c') && bytes.EqualFold(h[:15], []byte("Content-Length:")) {
			length, err = strconv.Atoi(string(bytes.TrimSpace(h[15:])))
			if err != nil {
				return 0, fmt.Errorf("bad Content-Length %q", h)
			}
		}
	}
	if length < 0 {
		return 0, fmt.Errorf("response without Content-Length")
	}
	if _, err := rc.r.Discard(length); err != nil {
		return 0, err
	}
	return code, nil
}

// offerREST sends requests open loop at rate rows/s for dur over conns
// keep-alive connections. Arrival i is due at start + i/rate and goes out
// on connection i mod conns; its latency counts from when it was due, so
// a request that waited for its connection to come free is charged for
// the wait (no coordinated omission while the pool keeps up). 429 answers
// count as refused, any other failure as well; only 200s are served.
func offerREST(conns []*restConn, reqs [][]byte, rows int, rate float64, dur time.Duration) stepResult {
	perSec := rate / float64(rows)
	total := int(perSec * dur.Seconds())
	lats := make([]time.Duration, total)
	var wg sync.WaitGroup
	start := time.Now().Add(time.Millisecond)
	var errMu sync.Mutex
	var firstErr error
	for k := range conns {
		wg.Add(1)
		go func(k int) {
			defer wg.Done()
			rc := conns[k]
			for i := k; i < total; i += len(conns) {
				due := start.Add(time.Duration(float64(i) / perSec * float64(time.Second)))
				if d := time.Until(due); d > 0 {
					time.Sleep(d)
				}
				code, err := rc.roundTrip(reqs[i%len(reqs)])
				switch {
				case err != nil:
					// The connection broke: count the request as not
					// served and carry on over a new one.
					errMu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					errMu.Unlock()
					lats[i] = -1
					rc.c.Close()
					nc, err := dialREST(rc.c.RemoteAddr().String())
					if err != nil {
						for i += len(conns); i < total; i += len(conns) {
							lats[i] = -1
						}
						return
					}
					rc, conns[k] = nc, nc
				case code == 200:
					lats[i] = time.Since(due)
				default:
					lats[i] = -1
				}
			}
		}(k)
	}
	wg.Wait()
	if firstErr != nil {
		fmt.Println("  load generator:", firstErr)
	}
	return summarise(lats, rows, total, dur, time.Since(start))
}

// summarise turns per-request latencies (-1: not served) into a step's
// figures.
func summarise(lats []time.Duration, rows, total int, dur, el time.Duration) stepResult {
	var good []time.Duration
	for _, l := range lats {
		if l >= 0 {
			good = append(good, l)
		}
	}
	sort.Slice(good, func(i, j int) bool { return good[i] < good[j] })
	r := stepResult{offered: float64(total*rows) / dur.Seconds(), served: float64(len(good)) * float64(rows) / el.Seconds(),
		ok: int64(len(good)), refused: int64(total - len(good))}
	if len(good) > 0 {
		r.p50 = good[len(good)/2]
		r.p99 = good[len(good)*99/100]
	} else {
		r.p50, r.p99 = time.Hour, time.Hour
	}
	// Over every request sent, a refused one counts as late: a step that
	// keeps its tail short by refusing more than 1% did not serve its
	// offer within the objective.
	r.p99All = time.Hour
	if k := total * 99 / 100; k < len(good) {
		r.p99All = good[k]
	}
	return r
}
