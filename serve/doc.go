// Package serve is Kiln's inference server: it speaks the Open Inference
// Protocol (KServe v2, also spoken by Triton and Seldon) over REST/JSON and
// gRPC, and borrows Clipper's techniques (Crankshaw et al., "Clipper: A
// Low-Latency Online Prediction Serving System", NSDI 2017) to keep
// latency within an objective while batching for throughput.
//
// How the pieces fit:
//
//	REST (http.go) ─┐                      ┌─► Cache (cache.go, CLOCK) ─┐
//	gRPC (grpc.go) ─┴─► Server.Infer ──────┤                            ├─► Batcher ─► Model.Predict
//	                    (infer.go)         └─► Selector (selection.go)  │   (batcher.go; one per version)
//	                                            pinned | canary | Exp3  │
//	                                            ensemble (ensemble.go) ─┘
//
// The model repository (repository.go) is a folder of NAME/VERSION/
// folders, each written by kiln train --out; Server.Watch rescans it and
// loads new or changed versions and unloads removed ones while serving.
// NAME/policy.yaml chooses how a request that names no version is served.
// Each version is calibrated when it loads (chunk.go): Model.PredictParts
// runs a batch as the network calls that measured fastest per row. An
// MLP's input normalisation is folded into its first layer at load, so a
// batch takes the requests' raw rows.
//
// Binary FP32 inputs (REST's binary tensor data extension, gRPC's
// raw_input_contents) are decoded into buffers from a pool and given back
// when the request is answered: Batcher.Predict returns only once no
// batch reads its caller's rows, and an ensemble copies its inputs for
// members that may outlive the answer.
//
// The policies are pure code tested against tables: AIMD (aimd.go) sizes
// batches by additive increase and multiplicative decrease against the
// batch latency objective (a quarter of the request objective less half
// the batching delay, since a request may wait for the batch running before
// its own and for its batch to fill); planBatch (batchplan.go) decides
// when a queue runs, and fillTarget how many rows a free model waits for
// (those expected within the delay); admit refuses at once a
// request that the queue ahead of it would make late, and the bounded
// queue refuses the rest of an overload (HTTP 429 or gRPC
// RESOURCE_EXHAUSTED with Retry-After); Exp3 learns from rewards posted
// to /v2/models/NAME/feedback; ensembleDecided lets an ensemble answer
// once its answered members fix the prediction. Batcher, Server and the
// front ends add the goroutines, sockets and clock.
//
// A Kiln model takes one FP32 input named "input" of shape [N, 784] (MLP)
// or [N, 1, 28, 28] (LeNet-5; the MLP also takes this shape), pixels in
// [0, 1] (the server applies the model's saved normalisation), and returns
// "probabilities" (FP32 [N, classes]) and "class" (INT64 [N]).
package serve
