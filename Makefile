# OnnxUnlearn: build, test and demo. Needs only the .NET 10 SDK (NuGet packages are restored on
# the first build).
#
#   make build      Release build; the CLI at bin/onnx-unlearn (framework-dependent)
#   make test       the whole test suite; ends with the line "N passed, N failed, N skipped"
#   make demo       make the bundled sample model forget class 0 (Fashion-MNIST T-shirt/top)
#   make bench      onnx-unlearn vs PyTorch (tools/bench.sh; needs /usr/bin/python3 with torch, numpy,
#                   onnx); BENCH_QUICK=1 for a smoke run, BENCH_THREADS (default 2)
#   make build-gpu  self-contained linux-x64 CLI with the CUDA execution provider, in bin/gpu
#   make clean      remove build outputs

SHELL := /bin/bash
DOTNET ?= dotnet
CONFIG ?= Release
CLI := src/OnnxUnlearn.Cli
RESULTS := TestResults
export DOTNET_CLI_TELEMETRY_OPTOUT := 1
export DOTNET_NOLOGO := 1
export DOTNET_SKIP_FIRST_TIME_EXPERIENCE := 1

.PHONY: build test demo bench build-gpu clean

build:
	$(DOTNET) build OnnxUnlearn.sln -c $(CONFIG)
	$(DOTNET) publish $(CLI) -c $(CONFIG) --no-build -o bin/publish
	@printf '%s\n' '#!/bin/sh' '# Runs the CLI published by make build.' \
		'exec "$$(dirname "$$(readlink -f "$$0")")/publish/onnx-unlearn" "$$@"' > bin/onnx-unlearn
	@chmod +x bin/onnx-unlearn
	@echo "built bin/onnx-unlearn"

# The TRX log is the source of the summary line; the console summary is the fall-back.
test:
	@rm -rf $(RESULTS); mkdir -p $(RESULTS)
	@set -o pipefail; status=0; \
	$(DOTNET) test OnnxUnlearn.sln -c $(CONFIG) --results-directory $(RESULTS) \
		--logger "trx;LogFileName=tests.trx" --logger "console;verbosity=normal" 2>&1 \
		| tee $(RESULTS)/console.log || status=$$?; \
	.ci/test-summary $(RESULTS) || { [ $$status -ne 0 ] || status=1; }; \
	exit $$status

demo: build
	@mkdir -p out
	bin/onnx-unlearn inspect models/fmnist_cnn_bn.onnx
	@echo
	bin/onnx-unlearn forget --model models/fmnist_cnn_bn.onnx --data models/fmnist_train.npz --test models/fmnist_test.npz \
		--preprocess fmnist --classes 0 --out out/fmnist_cnn_bn_forget0.onnx --report out/forget0.json
	@echo
	bin/onnx-unlearn eval --model out/fmnist_cnn_bn_forget0.onnx --data models/fmnist_test.npz --preprocess fmnist --classes 0

# Tables on stdout and bench-results.json; sizes and threads from BENCH_* (see tools/bench.sh).
bench: build
	tools/bench.sh

# Self-contained (runs without a .NET install), with its own restore and intermediate folders
# under artifacts/gpu so that it never mixes with the CPU build. Trimmed in partial mode: only the
# framework's assemblies are trimmed; ours, CommandLineParser (reflection over the verb classes)
# and Google.Protobuf stay whole. The ORT GPU meta-package also drops its Windows DLLs (~215 MB)
# into a linux-x64 publish; they are removed.
build-gpu:
	rm -rf bin/gpu
	$(DOTNET) publish $(CLI) -c $(CONFIG) -r linux-x64 --self-contained -p:OnnxRuntimeFlavor=Gpu \
		-p:PublishTrimmed=true -p:TrimMode=partial -p:SuppressTrimAnalysisWarnings=true \
		--artifacts-path artifacts/gpu -o bin/gpu
	rm -f bin/gpu/onnxruntime.dll bin/gpu/onnxruntime_providers_*.dll
	@echo "built bin/gpu/onnx-unlearn (needs CUDA 13 and cuDNN 9 for --device cuda)"

clean:
	-$(DOTNET) clean OnnxUnlearn.sln -c $(CONFIG) -v quiet
	rm -rf bin/publish bin/gpu bin/onnx-unlearn artifacts $(RESULTS)
	find src tests -type d \( -name bin -o -name obj \) -prune -exec rm -rf {} +
