package collective

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// startEtcd runs a real etcd (Debian's etcd-server) on loopback ports in a
// temporary directory for the test.
func startEtcd(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("etcd")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("etcd not installed (Debian package etcd-server)")
		}
		t.Skip("etcd not installed (Debian package etcd-server); skipping")
	}
	port := func() int {
		ln, _ := net.Listen("tcp", "127.0.0.1:0")
		defer ln.Close()
		return ln.Addr().(*net.TCPAddr).Port
	}
	client, peer := fmt.Sprintf("http://127.0.0.1:%d", port()), fmt.Sprintf("http://127.0.0.1:%d", port())
	dir := t.TempDir()
	cmd := exec.Command(bin, "--data-dir", filepath.Join(dir, "data"), "--listen-client-urls", client, "--advertise-client-urls", client,
		"--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer, "--initial-cluster", "default="+peer, "--log-level", "error")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.Dial("tcp", strings.TrimPrefix(client, "http://")); err == nil {
			c.Close()
			return client
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatal("etcd did not start")
	return ""
}

func TestEtcdRendezvous(t *testing.T) {
	ep := startEtcd(t)
	ctx := context.Background()
	const n = 3
	var wg sync.WaitGroup
	errs := make([]error, n)
	sums := make([]float32, n)
	for r := 0; r < n; r++ {
		wg.Add(1)
		go func(r int) {
			defer wg.Done()
			st, err := DialEtcd(ctx, []string{ep}, "/kiln/test/")
			if err != nil {
				errs[r] = err
				return
			}
			defer st.Close()
			g, err := Join(ctx, Config{Rank: r, Size: n, Store: st, Timeout: 20 * time.Second})
			if err != nil {
				errs[r] = err
				return
			}
			defer g.Close()
			x := []float32{float32(r + 1)}
			errs[r] = g.AllReduce(x, Auto)
			sums[r] = x[0]
		}(r)
	}
	wg.Wait()
	for r := 0; r < n; r++ {
		if errs[r] != nil || sums[r] != 6 {
			t.Fatalf("rank %d: sum %v, err %v", r, sums[r], errs[r])
		}
	}
}

// TestEtcdMembership registers two members under leases, lets one stop
// keeping its lease alive, and checks that the other notices it gone.
func TestEtcdMembership(t *testing.T) {
	ep := startEtcd(t)
	ctx := context.Background()
	a, err := DialEtcd(ctx, []string{ep}, "/kiln/m/")
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := DialEtcd(ctx, []string{ep}, "/kiln/m/")
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Register(ctx, 0, time.Second); err != nil {
		t.Fatal(err)
	}
	if err := b.Register(ctx, 1, time.Second); err != nil {
		t.Fatal(err)
	}
	if m, _ := a.Members(ctx); fmt.Sprint(m) != "[0 1]" {
		t.Fatalf("members %v", m)
	}
	lost := make(chan int, 1)
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go a.WatchMembers(wctx, func(r int) { lost <- r })
	time.Sleep(100 * time.Millisecond)
	b.Close() // its keep-alive stops: the lease expires
	select {
	case r := <-lost:
		if r != 1 {
			t.Fatalf("lost rank %d, want 1", r)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("a dead member was not noticed")
	}
	if m, _ := a.Members(ctx); fmt.Sprint(m) != "[0]" {
		t.Fatalf("members after expiry %v", m)
	}
}
