package serve

import (
	"context"
	"testing"
)

// BenchmarkGRPCInferMLP1Row measures one-image requests to the MNIST MLP
// over gRPC on loopback, client and server in this process.
func BenchmarkGRPCInferMLP1Row(b *testing.B) {
	repo := b.TempDir()
	saveMLP(b, repo, "mnist", "1", []int{256, 128}, 1, nil)
	ts := startServer(b, Config{Repository: repo, MaxQueueRows: 1 << 16})
	req := rawRequest(images(1, 1), 1)
	b.SetParallelism(32)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := ts.grpc.ModelInfer(context.Background(), req); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
