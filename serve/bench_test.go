package serve

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"net"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// cpuTime returns the CPU time this process has used, user and system.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportBatches reports the mean rows per batch the server ran.
func reportBatches(b *testing.B, s *Server) {
	mfs, err := s.met.reg.Gather()
	if err != nil {
		b.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "kiln_serve_batch_size" {
			h := mf.GetMetric()[0].GetHistogram()
			b.ReportMetric(h.GetSampleSum()/float64(h.GetSampleCount()), "rows/batch")
		}
	}
}

// reportCPU reports the process's CPU time per request since start:
// unlike ns/op it does not depend on how much of the machine the
// benchmark got.
func reportCPU(b *testing.B, start time.Duration) {
	b.ReportMetric(float64(cpuTime(b)-start)/float64(b.N)/1000, "cpu-µs/op")
}

// BenchmarkGRPCInferMLP1Row measures one-image requests to the MNIST MLP
// over gRPC on loopback, client and server in this process.
func BenchmarkGRPCInferMLP1Row(b *testing.B) {
	repo := b.TempDir()
	saveMLP(b, repo, "mnist", "1", []int{256, 128}, 1, nil)
	ts := startServer(b, Config{Repository: repo, MaxQueueRows: 1 << 16})
	req := rawRequest(images(1, 1), 1)
	b.SetParallelism(32)
	b.ResetTimer()
	cpu0 := cpuTime(b)
	defer reportCPU(b, cpu0)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := ts.grpc.ModelInfer(context.Background(), req); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkRESTInferMLP1Row measures one-image requests to the MNIST MLP
// over REST with the binary tensor data extension on loopback, from
// keep-alive connections that send pre-encoded requests (as the
// bench-serve_load generator does), client and server in this process.
func BenchmarkRESTInferMLP1Row(b *testing.B) {
	for _, d := range []time.Duration{-1, 500 * time.Microsecond, 2 * time.Millisecond} {
		b.Run("max-delay="+max(d, 0).String(), func(b *testing.B) { benchREST(b, d) })
	}
}

func benchREST(b *testing.B, maxDelay time.Duration) {
	repo := b.TempDir()
	saveMLP(b, repo, "mnist", "1", []int{256, 128}, 1, nil)
	ts := startServer(b, Config{Repository: repo, MaxQueueRows: 1 << 16, MaxDelay: maxDelay})
	req := rawHTTPRequest("mnist", images(1, 1), 1)
	addr := strings.TrimPrefix(ts.url, "http://")
	b.SetParallelism(32)
	b.ResetTimer()
	cpu0 := cpuTime(b)
	defer reportBatches(b, ts.Server)
	defer reportCPU(b, cpu0)
	b.RunParallel(func(pb *testing.PB) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			b.Error(err)
			return
		}
		defer c.Close()
		r := bufio.NewReader(c)
		for pb.Next() {
			if code, err := rawRoundTrip(c, r, req); err != nil || code != 200 {
				b.Errorf("status %d: %v", code, err)
				return
			}
		}
	})
}

// rawHTTPRequest encodes an HTTP/1.1 infer request for rows of x with the
// binary tensor data extension, the class output asked back in binary.
func rawHTTPRequest(model string, x []float32, rows int) []byte {
	hdr := fmt.Sprintf(`{"inputs":[{"name":"input","shape":[%d,784],"datatype":"FP32","parameters":{"binary_data_size":%d}}],`+
		`"outputs":[{"name":"class","parameters":{"binary_data":true}}]}`, rows, 4*len(x))
	var b bytes.Buffer
	fmt.Fprintf(&b, "POST /v2/models/%s/infer HTTP/1.1\r\nHost: kiln\r\nInference-Header-Content-Length: %d\r\nContent-Length: %d\r\n\r\n%s",
		model, len(hdr), len(hdr)+4*len(x), hdr)
	for _, v := range x {
		binary.Write(&b, binary.LittleEndian, math.Float32bits(v))
	}
	return b.Bytes()
}

// rawRoundTrip writes req and reads one response, returning its status.
func rawRoundTrip(c net.Conn, r *bufio.Reader, req []byte) (int, error) {
	if _, err := c.Write(req); err != nil {
		return 0, err
	}
	line, err := r.ReadString('\n')
	if err != nil {
		return 0, err
	}
	f := strings.Fields(line)
	if len(f) < 2 {
		return 0, fmt.Errorf("status line %q", line)
	}
	code, _ := strconv.Atoi(f[1])
	n := -1
	for {
		h, err := r.ReadString('\n')
		if err != nil {
			return 0, err
		}
		h = strings.TrimSpace(h)
		if h == "" {
			break
		}
		if k, v, ok := strings.Cut(h, ":"); ok && strings.EqualFold(k, "Content-Length") {
			n, _ = strconv.Atoi(strings.TrimSpace(v))
		}
	}
	if n < 0 {
		return 0, fmt.Errorf("no Content-Length")
	}
	_, err = r.Discard(n)
	return code, err
}
