"""Shared fixtures for the filtering tests: the backends this machine can run."""

import pytest

from filtering.index import available_backends

# (backend, precision) pairs under test: every CPU backend at every storage precision it has.
CPU_CASES = [
    ("numpy", "fp32"),
    ("numpy", "bf16"),
    ("faiss-cpu", "fp32"),
    ("faiss-cpu", "fp16"),
    ("faiss-cpu", "bf16"),
    ("torch-cpu", "fp32"),
    ("torch-cpu", "fp16"),
    ("torch-cpu", "bf16"),
    ("torch-cuda", "fp32"),
    ("torch-cuda", "fp16"),
    ("faiss-gpu", "fp32"),
    ("faiss-gpu", "fp16"),
]


@pytest.fixture(params=CPU_CASES, ids=lambda c: f"{c[0]}-{c[1]}")
def backend_case(request):
    backend, precision = request.param
    if backend not in available_backends():
        pytest.skip(f"{backend} is not available on this machine")
    return backend, precision

