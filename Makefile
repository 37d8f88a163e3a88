# Two entry points: `make demo` and `make test`. Both create the virtualenv and install on first use.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.ccpairs-installed
EXTRAS ?= train,gcp,test
DEMO_OUT ?= out/demo

.PHONY: install demo test bench clean

$(STAMP): setup.py constraints-cpu.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c constraints-cpu.txt -e '.[$(EXTRAS)]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(PY) -m pipelines.main --demo --output $(DEMO_OUT)

# Two pytest workers (pytest-xdist), a file's tests on one worker: most tests use one core, so on
# 2 cores the suite takes about 8 minutes instead of 12.
test: $(STAMP)
	$(PY) -m pytest -q -n 2 --dist loadfile tests

bench: $(STAMP)
	$(PY) -m pip install -q -c constraints-cpu.txt -e '.[bench]'  # the baselines some benchmarks measure against
	$(PY) benchmarks/reddit_pipeline.py
	$(PY) benchmarks/stackexchange_pipeline.py
	$(PY) benchmarks/wikipedia_pipeline.py
	$(PY) benchmarks/semanticscholar_pipeline.py
	$(PY) benchmarks/langid.py
	$(PY) benchmarks/filter_bench.py
	$(PY) benchmarks/filter_end_to_end.py
	$(PY) benchmarks/planted_noise.py
	$(PY) benchmarks/train_bench.py
	$(PY) benchmarks/train_learns.py
	$(PY) benchmarks/gpu_stage.py
	$(PY) benchmarks/adversarial_cleaners.py
	$(PY) benchmarks/fuzz.py
	$(PY) benchmarks/corpus_job.py
	$(PY) benchmarks/commoncrawl_pipeline.py
	$(PY) benchmarks/beam_overhead.py --label "make bench"  # last: one table across all sources and the corpus job

clean:
	rm -rf out build *.egg-info
