package serve

import (
	"context"
	"net"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	pb "github.com/kiln-ml/kiln/serve/inferencepb"
)

// panickyHealth is a gRPC service whose call panics.
type panickyHealth struct {
	healthpb.UnimplementedHealthServer
}

func (panickyHealth) Check(context.Context, *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
	var m map[string]int
	m["boom"] = 1 // assignment to a nil map
	return nil, nil
}

// A panic in a call on a grpc.Server built with GRPCOptions is that
// call's INTERNAL error, and the same server goes on answering (without
// the options grpc-go lets the panic end the process).
func TestGRPCPanicIsAnInternalError(t *testing.T) {
	repo := t.TempDir()
	saveMLP(t, repo, "mnist", "1", []int{8}, 1, nil)
	s, err := NewServer(Config{Repository: repo})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	gs := grpc.NewServer(s.GRPCOptions()...)
	s.RegisterGRPC(gs)
	healthpb.RegisterHealthServer(gs, panickyHealth{})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go gs.Serve(l)
	defer gs.Stop()
	conn, err := grpc.NewClient(l.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx := context.Background()
	_, err = healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
	if st, _ := status.FromError(err); st.Code() != codes.Internal || !strings.Contains(st.Message(), "assignment to entry in nil map") {
		t.Fatalf("a panicking call returned %v, want INTERNAL naming the panic", err)
	}
	r, err := pb.NewGRPCInferenceServiceClient(conn).ModelReady(ctx, &pb.ModelReadyRequest{Name: "mnist"})
	if err != nil || !r.GetReady() {
		t.Fatalf("after the panic, ModelReady: %v %v", r, err)
	}
}
