# Kiln's build. `make quickstart` runs the main job end to end; `make test`
# runs every test. The BLAS backend is OpenBLAS when it can be built (the
# script installs libopenblas-dev when missing and we are root on Debian),
# otherwise the pure-Go backend; scripts/blas-tags.sh says which.

GO      ?= go
BIN     ?= bin/kiln
TAGS     = $(shell scripts/blas-tags.sh)
DATA    ?= $(abspath ../shared/data)
export KILN_TEST_DATA ?= $(DATA)

.PHONY: all build test test-short vet fmt-check race fuzz quickstart clean \
	bench-train_vs_torch bench-sgemm bench-allreduce_vs_gloo bench-ddp_vs_torch bench-ps_staleness bench-spam bench-label_fit \
	bench-store_overhead bench-serve_load bench-validate_vs_pandas

all: build

build:
	$(GO) build -tags '$(TAGS)' -o $(BIN) ./cmd/kiln

vet:
	$(GO) vet -tags '$(TAGS)' ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi

# Every test: the build's backend, the pure-Go backend for the kernels, and
# the race detector on the concurrent packages.
test: fmt-check vet
	$(GO) test -tags '$(TAGS)' -count=1 ./...
	$(GO) test -count=1 ./tensor/... ./autograd/... ./nn/...
	$(GO) test -race -count=1 ./data/... ./train/... ./collective/... ./parallel/... ./pipeline/... ./store/... ./serve/... ./validate/...

race:
	$(GO) test -race -tags '$(TAGS)' ./...

# Short fuzzing of every parser (the seed corpora also run in `make test`).
fuzz:
	$(GO) test -run XXX -fuzz FuzzDecode -fuzztime 30s ./nn/safetensors/
	$(GO) test -run XXX -fuzz FuzzDecodeIDX -fuzztime 30s ./data/
	$(GO) test -run XXX -fuzz FuzzCSVReader -fuzztime 30s ./data/
	$(GO) test -run XXX -fuzz FuzzCSVDataset -fuzztime 30s ./data/
	$(GO) test -run XXX -fuzz FuzzDecodeMatrix -fuzztime 30s ./label/
	$(GO) test -run XXX -fuzz FuzzParseSpec -fuzztime 30s ./label/
	$(GO) test -run XXX -fuzz FuzzParseJSONRecord -fuzztime 30s ./label/
	$(GO) test -run XXX -fuzz FuzzParseWrench -fuzztime 30s ./label/
	$(GO) test -run XXX -fuzz FuzzParse -fuzztime 30s ./pipeline/
	$(GO) test -run XXX -fuzz FuzzDecodeMetrics -fuzztime 30s ./store/
	$(GO) test -run XXX -fuzz FuzzFilter -fuzztime 30s ./store/rowdelete/
	$(GO) test -run XXX -fuzz FuzzDecodeRESTRequest -fuzztime 30s ./serve/
	$(GO) test -run XXX -fuzz FuzzDecodeGRPCRequest -fuzztime 30s ./serve/
	$(GO) test -run XXX -fuzz FuzzDecodeRESTBinary -fuzztime 30s ./serve/
	$(GO) test -run XXX -fuzz FuzzCSVScanner -fuzztime 30s ./validate/
	$(GO) test -run XXX -fuzz FuzzCSVSplit -fuzztime 30s ./validate/
	$(GO) test -run XXX -fuzz FuzzJSONL -fuzztime 30s ./validate/
	$(GO) test -run XXX -fuzz FuzzDecodeStats -fuzztime 30s ./validate/
	$(GO) test -run XXX -fuzz FuzzDecodeSchema -fuzztime 30s ./validate/
	$(GO) test -run XXX -fuzz FuzzParquet -fuzztime 30s ./validate/
	$(GO) test -run XXX -fuzz FuzzParseNumber -fuzztime 30s ./validate/

# The quickstart is a pipeline (examples/quickstart/pipeline.yaml): a second
# run skips every cached step. KILN_THREADS=N sets its threads variable.
quickstart: build
	$(BIN) pipeline run examples/quickstart/pipeline.yaml $(if $(KILN_THREADS),--set threads=$(KILN_THREADS))

bench-train_vs_torch: build
	bash bench/train_vs_torch/run.sh

bench-sgemm:
	bash bench/sgemm/run.sh -threads $(or $(THREADS),1)

clean:
	rm -rf bin

bench-allreduce_vs_gloo:
	bash bench/allreduce_vs_gloo/run.sh

bench-ddp_vs_torch:
	bash bench/ddp_vs_torch/run.sh

bench-ps_staleness:
	bash bench/ps_staleness/run.sh

bench-spam:
	bash bench/spam/run.sh

bench-label_fit:
	bash bench/label_fit/run.sh

bench-store_overhead:
	bash bench/store_overhead/run.sh
bench-serve_load: build
	bash bench/serve_load/run.sh

bench-validate_vs_pandas:
	bash bench/validate_vs_pandas/run.sh
