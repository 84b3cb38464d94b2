# SmallThinker Chat. Two commands set everything up: `make run` and `make test`.
GO        ?= go
BUILD     := build
APP       := $(BUILD)/smallthinker-chat
CLI       := $(BUILD)/smallthinker
SHARED    ?= ../shared/testdata
DEB_PKGS  := libgl1-mesa-dev xorg-dev libxkbcommon-dev xvfb xauth
BENCH_4B  := $(BUILD)/models/random-4b-q4_0.gguf
FUZZTIME  ?= 5s

.PHONY: all deps build cli run test test-go test-race fuzz golden bench vet clean

all: build cli

# Fyne's cgo build needs the X11/GL headers; tests need Xvfb. Installed only when missing.
deps:
	@missing=""; for p in $(DEB_PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "make deps: installing Debian packages needed for Fyne's cgo build and headless tests:$$missing"; \
		SUDO=""; [ "$$(id -u)" = 0 ] || SUDO="sudo"; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing >/dev/null \
			|| { echo "make deps: apt-get failed; install these yourself:$$missing"; exit 1; }; \
		echo "make deps: done"; \
	fi

build: deps
	$(GO) build -o $(APP) .

cli:
	CGO_ENABLED=0 $(GO) build -o $(CLI) ./cmd/smallthinker

run: build
	./$(APP)

vet:
	$(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))" || { echo "gofmt needed:"; gofmt -l .; exit 1; }

# Unit, fidelity (against $(SHARED)) and widget tests; race detector on the
# concurrent packages; short fuzzing of every parser of untrusted bytes; the
# CLI fidelity cross-check.
test: deps vet cli test-go test-race fuzz golden

test-go:
	$(GO) test -count=1 ./...
	CGO_ENABLED=0 $(GO) build ./cmd/smallthinker
	$(GO) test -count=1 -tags purego ./weights/... ./inference/...

test-race:
	$(GO) test -count=1 -race -short $$($(GO) list ./... | grep -E '/(app|ui|history|inference|weights)(/|$$)')

# Every Fuzz* test (parsers of untrusted bytes and kernels), each for $(FUZZTIME).
# A crasher the fuzzer finds is saved under testdata/fuzz and replayed by the
# second run, so a real bug fails the target; a run that dies without saving an
# input (a fuzz worker starved on a loaded machine) gets one retry.
fuzz:
	@set -e; grep -rl --include='*_test.go' '^func Fuzz' . | while read f; do \
		dir=$$(dirname $$f); \
		for fn in $$(grep -o '^func Fuzz[A-Za-z0-9_]*' $$f | sed 's/^func //'); do \
			echo "fuzz $$dir $$fn"; \
			$(GO) test -run '^$$' -fuzz "^$$fn\$$" -fuzztime $(FUZZTIME) $$dir >/dev/null 2>&1 || \
			$(GO) test -run '^$$' -fuzz "^$$fn\$$" -fuzztime $(FUZZTIME) $$dir || { echo "fuzz $$fn failed"; exit 1; }; \
		done; \
	done

golden: cli
	@if [ -d $(SHARED) ]; then python3 $(SHARED)/../tools/golden_check.py $(CLI) $(SHARED); \
	else echo "golden: $(SHARED) absent, skipping the CLI fidelity cross-check"; fi

$(BENCH_4B): cli
	@mkdir -p $(dir $@)
	./$(CLI) gen-model --preset 4b --type q4_0 --out $@

bench: cli $(BENCH_4B)
	$(GO) test -run '^$$' -bench . -benchtime 1x ./weights/... ./inference/...
	./$(CLI) bench --model $(BENCH_4B) --threads 2 --prompt 512 --gen 128

clean:
	rm -rf $(BUILD)
