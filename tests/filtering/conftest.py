"""Shared fixtures for the filtering tests: the backends this machine can run, a tiny model, one torch thread."""

import pathlib

import pytest
import torch

from filtering.index import available_backends
from model.encoder import EncoderSettings, build_random_encoder
from model.saving import save_encoder
from tests.model.conftest import TINY_BERT

SETTINGS = EncoderSettings(query_max_length=16, passage_max_length=24)


def tiny_model(path: pathlib.Path, seed: int = 0) -> pathlib.Path:
    """A random tiny BERT saved as a model folder: the filter's tests need a model, not a good one."""
    return save_encoder(build_random_encoder(TINY_BERT, settings=SETTINGS, seed=seed), path)


@pytest.fixture
def one_torch_thread():
    """Tiny models gain nothing from threads; one thread keeps results bitwise the same across
    processes and machines (the kill tests compare a resumed run with an uninterrupted one)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)

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

