package serve

import (
	"context"
	"fmt"
	"math"
	"runtime/debug"
	"strconv"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	pb "github.com/kiln-ml/kiln/serve/inferencepb"
)

// grpcService implements inference.GRPCInferenceService over a Server.
type grpcService struct {
	pb.UnimplementedGRPCInferenceServiceServer
	s *Server
}

// RegisterGRPC registers the Open Inference Protocol's gRPC service of s
// on g.
func (s *Server) RegisterGRPC(g *grpc.Server) {
	pb.RegisterGRPCInferenceServiceServer(g, &grpcService{s: s})
}

// GRPCOptions are the options a grpc.Server needs to serve s: a panic in
// a call becomes that call's INTERNAL error, logged with its stack,
// instead of ending the process (net/http does the same for REST).
func (s *Server) GRPCOptions() []grpc.ServerOption {
	return []grpc.ServerOption{grpc.ChainUnaryInterceptor(s.recoverUnary)}
}

func (s *Server) recoverUnary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (resp any, err error) {
	defer func() {
		if p := recover(); p != nil {
			s.log.Error("panic in a gRPC call", "method", info.FullMethod, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			resp, err = nil, status.Errorf(codes.Internal, "internal error in %s: %v", info.FullMethod, p)
		}
	}()
	return handler(ctx, req)
}

func (g *grpcService) ServerLive(context.Context, *pb.ServerLiveRequest) (*pb.ServerLiveResponse, error) {
	return &pb.ServerLiveResponse{Live: g.s.Live()}, nil
}

func (g *grpcService) ServerReady(context.Context, *pb.ServerReadyRequest) (*pb.ServerReadyResponse, error) {
	return &pb.ServerReadyResponse{Ready: g.s.Ready()}, nil
}

func (g *grpcService) ModelReady(_ context.Context, r *pb.ModelReadyRequest) (*pb.ModelReadyResponse, error) {
	if _, _, err := g.s.lookup(r.GetName(), r.GetVersion()); err != nil {
		return nil, grpcError(err)
	}
	return &pb.ModelReadyResponse{Ready: true}, nil
}

func (g *grpcService) ServerMetadata(context.Context, *pb.ServerMetadataRequest) (*pb.ServerMetadataResponse, error) {
	return &pb.ServerMetadataResponse{Name: ServerName, Version: ServerVersion, Extensions: []string{"binary_tensor_data"}}, nil
}

func (g *grpcService) ModelMetadata(_ context.Context, r *pb.ModelMetadataRequest) (*pb.ModelMetadataResponse, error) {
	md, err := g.s.Metadata(r.GetName(), r.GetVersion())
	if err != nil {
		return nil, grpcError(err)
	}
	tm := func(ts []TensorMetadata) []*pb.ModelMetadataResponse_TensorMetadata {
		out := make([]*pb.ModelMetadataResponse_TensorMetadata, len(ts))
		for i, t := range ts {
			out[i] = &pb.ModelMetadataResponse_TensorMetadata{Name: t.Name, Datatype: t.Datatype, Shape: t.Shape}
		}
		return out
	}
	return &pb.ModelMetadataResponse{Name: md.Name, Versions: md.Versions, Platform: md.Platform, Inputs: tm(md.Inputs), Outputs: tm(md.Outputs)}, nil
}

func (g *grpcService) ModelInfer(ctx context.Context, r *pb.ModelInferRequest) (*pb.ModelInferResponse, error) {
	start := time.Now()
	name := r.GetModelName()
	req, raw, err := decodeGRPC(r, &g.s.words)
	if err != nil {
		return nil, g.fail(ctx, name, err)
	}
	res, err := g.s.Infer(ctx, req)
	// Nothing reads the inputs once Infer has returned (see wordPool).
	g.s.words.putAll(req.pooled)
	req.pooled = nil
	if err != nil {
		return nil, g.fail(ctx, name, err)
	}
	resp := &pb.ModelInferResponse{ModelName: res.Model, ModelVersion: res.Version, Id: res.ID}
	if res.EnsembleSize > 0 {
		resp.Parameters = map[string]*pb.InferParameter{
			"ensemble_members": {ParameterChoice: &pb.InferParameter_Int64Param{Int64Param: int64(res.Members)}},
			"ensemble_size":    {ParameterChoice: &pb.InferParameter_Int64Param{Int64Param: int64(res.EnsembleSize)}},
		}
	}
	for _, o := range res.Outputs {
		var t *pb.ModelInferResponse_InferOutputTensor
		switch o {
		case ProbabilitiesName:
			t = &pb.ModelInferResponse_InferOutputTensor{Name: o, Datatype: "FP32", Shape: []int64{int64(res.Rows), int64(res.Classes)}}
			if raw {
				resp.RawOutputContents = append(resp.RawOutputContents, appendFP32s(nil, res.Probs))
			} else {
				t.Contents = &pb.InferTensorContents{Fp32Contents: res.Probs}
			}
		case ClassName:
			t = &pb.ModelInferResponse_InferOutputTensor{Name: o, Datatype: "INT64", Shape: []int64{int64(res.Rows)}}
			cls := res.ClassOf()
			if raw {
				resp.RawOutputContents = append(resp.RawOutputContents, appendINT64s(nil, cls))
			} else {
				t.Contents = &pb.InferTensorContents{Int64Contents: cls}
			}
		}
		resp.Outputs = append(resp.Outputs, t)
	}
	g.s.met.requests.WithLabelValues(name, "grpc", "OK").Inc()
	g.s.met.latency.WithLabelValues(name, "grpc").Observe(time.Since(start).Seconds())
	return resp, nil
}

func (g *grpcService) fail(ctx context.Context, model string, err error) error {
	_, reason, retry := statusOf(err)
	if retry > 0 {
		grpc.SetHeader(ctx, metadata.Pairs("retry-after", strconv.Itoa(retry)))
	}
	ge := grpcError(err)
	model = g.s.metricName(model)
	g.s.met.rejections.WithLabelValues(model, reason).Inc()
	g.s.met.requests.WithLabelValues(model, "grpc", status.Code(ge).String()).Inc()
	return ge
}

// grpcError maps an error of the server to a gRPC status: INVALID_ARGUMENT,
// NOT_FOUND, RESOURCE_EXHAUSTED (overload), DEADLINE_EXCEEDED, UNAVAILABLE,
// CANCELED.
func grpcError(err error) error {
	code, _, _ := statusOf(err)
	var c codes.Code
	switch code {
	case 400:
		c = codes.InvalidArgument
	case 404:
		c = codes.NotFound
	case 429:
		c = codes.ResourceExhausted
	case 504:
		c = codes.DeadlineExceeded
	case 503:
		c = codes.Unavailable
	case statusClientClosed:
		c = codes.Canceled
	default:
		if st, ok := status.FromError(err); ok && st.Code() != codes.Unknown {
			return err
		}
		c = codes.Internal
	}
	return status.Error(c, err.Error())
}

// DecodeGRPCRequest turns a ModelInferRequest into an InferRequest; raw
// tells whether the inputs came as raw_input_contents (and so the outputs
// go back the same way). Errors are *RequestError naming the field.
func DecodeGRPCRequest(r *pb.ModelInferRequest) (*InferRequest, bool, error) {
	return decodeGRPC(r, nil)
}

// decodeGRPC is DecodeGRPCRequest with an optional pool for raw FP32
// inputs, as decodeREST.
func decodeGRPC(r *pb.ModelInferRequest, words *wordPool) (*InferRequest, bool, error) {
	req := new(InferRequest)
	raw, err := decodeGRPCInto(req, r, words)
	if err != nil {
		words.putAll(req.pooled)
		return nil, false, err
	}
	return req, raw, nil
}

// decodeGRPCInto decodes into req, which holds any pooled buffers taken
// even when it fails.
func decodeGRPCInto(req *InferRequest, r *pb.ModelInferRequest, words *wordPool) (bool, error) {
	*req = InferRequest{Model: r.GetModelName(), Version: r.GetModelVersion(), ID: r.GetId()}
	if p, ok := r.GetParameters()["timeout"]; ok {
		var us int64
		switch v := p.GetParameterChoice().(type) {
		case *pb.InferParameter_Int64Param:
			us = v.Int64Param
		case *pb.InferParameter_Uint64Param:
			us = int64(min(v.Uint64Param, math.MaxInt64))
		default:
			return false, badRequest("parameters.timeout", "want microseconds as int64_param")
		}
		if us < 0 {
			return false, badRequest("parameters.timeout", "%d is negative", us)
		}
		req.Timeout = time.Duration(min(us, int64(time.Hour/time.Microsecond))) * time.Microsecond
	}
	raw := len(r.GetRawInputContents()) > 0
	if raw && len(r.GetRawInputContents()) != len(r.GetInputs()) {
		return false, badRequest("raw_input_contents", "%d entries for %d inputs", len(r.GetRawInputContents()), len(r.GetInputs()))
	}
	if len(r.GetInputs()) == 0 {
		return false, badRequest("inputs", "missing: a request needs at least one input tensor")
	}
	for i, in := range r.GetInputs() {
		f := fmt.Sprintf("inputs[%d]", i)
		if in.GetName() == "" {
			return false, badRequest(f+".name", "missing")
		}
		if !knownType(in.GetDatatype()) {
			return false, badRequest(f+".datatype", "unknown datatype %q", in.GetDatatype())
		}
		n, err := elements(f+".shape", in.GetShape(), maxElements)
		if err != nil {
			return false, err
		}
		t := InputTensor{Name: in.GetName(), Datatype: in.GetDatatype(), Shape: in.GetShape()}
		switch {
		case raw && in.GetContents() != nil:
			return false, badRequest(f+".contents", "set together with raw_input_contents")
		case raw && in.GetDatatype() == "FP32":
			b := r.GetRawInputContents()[i]
			if int64(len(b)) != 4*n {
				return false, badRequest(fmt.Sprintf("raw_input_contents[%d]", i), "%d bytes for %d FP32 elements (want %d)", len(b), n, 4*n)
			}
			// decodeFP32 refuses NaN and infinity, as the REST decoders do.
			field := fmt.Sprintf("raw_input_contents[%d]", i)
			if words != nil {
				w := words.get(int((n + 1) / 2)) // the byte count is checked
				req.pooled = append(req.pooled, w)
				t.Data, err = decodeFP32(*w, b, n, field)
			} else {
				t.Data, err = binaryFP32(b, n, field)
			}
			if err != nil {
				return false, err
			}
		case !raw && in.GetDatatype() == "FP32":
			d := in.GetContents().GetFp32Contents()
			if int64(len(d)) != n {
				return false, badRequest(f+".contents.fp32_contents", "%d values for shape %v (%d elements)", len(d), in.GetShape(), n)
			}
			for j, v := range d {
				if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
					return false, badRequest(fmt.Sprintf("%s.contents.fp32_contents[%d]", f, j), "%v is not a finite FP32 number", v)
				}
			}
			t.Data = d
		}
		req.Inputs = append(req.Inputs, t)
	}
	for i, o := range r.GetOutputs() {
		if o.GetName() == "" {
			return false, badRequest(fmt.Sprintf("outputs[%d].name", i), "missing")
		}
		req.Outputs = append(req.Outputs, o.GetName())
	}
	return raw, nil
}
