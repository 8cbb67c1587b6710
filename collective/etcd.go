package collective

import (
	"context"
	"fmt"
	"strconv"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// EtcdStore is a Store kept in etcd (v3 API; tested against Debian's
// etcd-server 3.4), for jobs whose rendezvous should not depend on rank 0
// being up: --rdzv-backend etcd. Members register under a lease that they
// keep alive, so that membership is known and a member that dies is noticed
// when its lease expires (see Members and WatchMembers).
type EtcdStore struct {
	cli    *clientv3.Client
	prefix string
	lease  clientv3.LeaseID
	cancel context.CancelFunc
}

// DialEtcd connects to the etcd endpoints; prefix namespaces the job's keys
// (e.g. "/kiln/JOB/").
func DialEtcd(ctx context.Context, endpoints []string, prefix string) (*EtcdStore, error) {
	cli, err := clientv3.New(clientv3.Config{Endpoints: endpoints, DialTimeout: 5 * time.Second, Context: ctx})
	if err != nil {
		return nil, fmt.Errorf("etcd %v: %w", endpoints, err)
	}
	// clientv3.New does not wait for a connection; check that one exists.
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := cli.Get(cctx, prefix+"probe"); err != nil {
		cli.Close()
		return nil, fmt.Errorf("etcd %v: %w", endpoints, err)
	}
	return &EtcdStore{cli: cli, prefix: prefix}, nil
}

// Set implements Store.
func (e *EtcdStore) Set(ctx context.Context, key string, value []byte) error {
	_, err := e.cli.Put(ctx, e.prefix+key, string(value))
	if err != nil {
		return fmt.Errorf("etcd: set %q: %w", key, err)
	}
	return nil
}

// Get implements Store: it waits, through a watch, until key is set.
func (e *EtcdStore) Get(ctx context.Context, key string) ([]byte, error) {
	k := e.prefix + key
	resp, err := e.cli.Get(ctx, k)
	if err != nil {
		return nil, fmt.Errorf("etcd: get %q: %w", key, err)
	}
	if len(resp.Kvs) > 0 {
		return resp.Kvs[0].Value, nil
	}
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for wr := range e.cli.Watch(wctx, k, clientv3.WithRev(resp.Header.Revision+1)) {
		if err := wr.Err(); err != nil {
			return nil, fmt.Errorf("etcd: watch %q: %w", key, err)
		}
		for _, ev := range wr.Events {
			if ev.Type == clientv3.EventTypePut {
				return ev.Kv.Value, nil
			}
		}
	}
	return nil, fmt.Errorf("etcd: get %q: %w", key, ctx.Err())
}

// Add implements Store with a compare-and-swap loop.
func (e *EtcdStore) Add(ctx context.Context, key string, delta int64) (int64, error) {
	k := e.prefix + key
	for {
		resp, err := e.cli.Get(ctx, k)
		if err != nil {
			return 0, fmt.Errorf("etcd: add %q: %w", key, err)
		}
		var cur int64
		var cmp clientv3.Cmp
		if len(resp.Kvs) == 0 {
			cmp = clientv3.Compare(clientv3.CreateRevision(k), "=", 0)
		} else {
			cur, _ = strconv.ParseInt(string(resp.Kvs[0].Value), 10, 64)
			cmp = clientv3.Compare(clientv3.ModRevision(k), "=", resp.Kvs[0].ModRevision)
		}
		next := cur + delta
		txn, err := e.cli.Txn(ctx).If(cmp).Then(clientv3.OpPut(k, strconv.FormatInt(next, 10))).Commit()
		if err != nil {
			return 0, fmt.Errorf("etcd: add %q: %w", key, err)
		}
		if txn.Succeeded {
			return next, nil
		}
	}
}

// Register records this rank as a live member under a lease of ttl that is
// kept alive until Close; if the process dies, etcd deletes the key when
// the lease expires.
func (e *EtcdStore) Register(ctx context.Context, rank int, ttl time.Duration) error {
	lease, err := e.cli.Grant(ctx, int64(max(1, ttl/time.Second)))
	if err != nil {
		return fmt.Errorf("etcd: lease: %w", err)
	}
	kctx, cancel := context.WithCancel(context.Background())
	ch, err := e.cli.KeepAlive(kctx, lease.ID)
	if err != nil {
		cancel()
		return fmt.Errorf("etcd: keep-alive: %w", err)
	}
	go func() {
		for range ch { // drain keep-alive replies
		}
	}()
	e.lease, e.cancel = lease.ID, cancel
	if _, err := e.cli.Put(ctx, e.prefix+"members/"+strconv.Itoa(rank), "alive", clientv3.WithLease(lease.ID)); err != nil {
		return fmt.Errorf("etcd: register rank %d: %w", rank, err)
	}
	return nil
}

// Members returns the ranks whose membership lease is alive.
func (e *EtcdStore) Members(ctx context.Context) ([]int, error) {
	resp, err := e.cli.Get(ctx, e.prefix+"members/", clientv3.WithPrefix())
	if err != nil {
		return nil, fmt.Errorf("etcd: members: %w", err)
	}
	var out []int
	for _, kv := range resp.Kvs {
		r, err := strconv.Atoi(string(kv.Key[len(e.prefix+"members/"):]))
		if err == nil {
			out = append(out, r)
		}
	}
	return out, nil
}

// WatchMembers calls lost(rank) for each member whose lease expires or
// which deregisters, until ctx ends.
func (e *EtcdStore) WatchMembers(ctx context.Context, lost func(rank int)) {
	p := e.prefix + "members/"
	for wr := range e.cli.Watch(ctx, p, clientv3.WithPrefix()) {
		for _, ev := range wr.Events {
			if ev.Type == clientv3.EventTypeDelete {
				if r, err := strconv.Atoi(string(ev.Kv.Key[len(p):])); err == nil {
					lost(r)
				}
			}
		}
	}
}

// Close stops the keep-alive (the membership key then expires with its
// lease) and the client.
func (e *EtcdStore) Close() error {
	if e.cancel != nil {
		e.cancel()
	}
	return e.cli.Close()
}
