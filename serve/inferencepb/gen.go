// Package inferencepb holds the Go code generated from
// grpc_predict_v2.proto, the Open Inference Protocol's gRPC service
// (package inference, service GRPCInferenceService).
//
// The generated files are committed, so building Kiln needs no protoc.
// To regenerate them, install protoc (Debian: protobuf-compiler),
// protoc-gen-go v1.36.12 and protoc-gen-go-grpc v1.6.2, then run
// `go generate ./serve/inferencepb/`.
package inferencepb

//go:generate protoc --go_out=. --go_opt=paths=source_relative --go-grpc_out=. --go-grpc_opt=paths=source_relative grpc_predict_v2.proto
