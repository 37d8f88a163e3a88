"""Batch tokenization straight from the Rust tokenizer to padded int64 tensors.

Why: `tokenizer(texts, padding=True, truncation=True, return_tensors="pt")` builds a Python list per
text and a BatchEncoding before any tensor exists; on the GPU stage it capped embedding at about
4,300 texts/s where the fast tokenizer's own `encode_batch` does 30,000 on 16 cores (issue 15).
Here a copy of the backend tokenizer is configured once per max length (truncation, padding to the
longest text) and never changed afterwards, so several threads may encode with it at once (the
prefetching threads of model.embed and model.train do); the ids go to numpy in one step.

The tensors equal those of the transformers call (tests/model/test_tokenize.py). A tokenizer with
no Rust backend (a "slow" one) goes through the transformers call.
"""

from __future__ import annotations

import threading
from typing import Dict, Optional, Sequence

import numpy as np
import torch

Batch = Dict[str, torch.Tensor]


class BatchTokenizer:
    """Callable: (texts, max_length) -> {"input_ids", "attention_mask"} (int64, right-padded)."""

    def __init__(self, hf_tokenizer):
        self.hf = hf_tokenizer
        self._lock = threading.Lock()
        self._by_length: Dict[int, object] = {}

    @property
    def is_fast(self) -> bool:
        return bool(getattr(self.hf, "is_fast", False)) and getattr(self.hf, "backend_tokenizer", None) is not None

    def __call__(self, texts: Sequence[str], max_length: int) -> Batch:
        texts = list(texts)
        if not texts:
            empty = torch.zeros((0, 0), dtype=torch.int64)
            return {"input_ids": empty, "attention_mask": empty.clone()}
        if not self.is_fast:
            return self._through_transformers(texts, max_length)
        backend = self._configured(max_length)
        encode = getattr(backend, "encode_batch_fast", backend.encode_batch)  # no char offsets: faster
        encodings = encode(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        return {"input_ids": torch.from_numpy(ids), "attention_mask": torch.from_numpy(mask)}

    def _through_transformers(self, texts: Sequence[str], max_length: int) -> Batch:
        encoded = self.hf(texts, padding=True, truncation=True, max_length=max_length, return_tensors="pt")
        return {"input_ids": encoded["input_ids"], "attention_mask": encoded["attention_mask"]}

    def _configured(self, max_length: int):
        """The backend copy for this max length, made once: what transformers sets per call, set here once."""
        with self._lock:
            backend = self._by_length.get(max_length)
            if backend is None:
                backend = configured_backend(self.hf, max_length)
                self._by_length[max_length] = backend
            return backend

    def __getstate__(self):
        """Copies (deepcopy, pickling) rebuild their configured backends on first use; a lock cannot travel."""
        return {"hf": self.hf}

    def __setstate__(self, state):
        self.__init__(state["hf"])


def configured_backend(hf_tokenizer, max_length: int, pad_to_multiple_of: Optional[int] = None):
    """A copy of the Rust tokenizer that truncates to max_length and pads to the batch's longest text,
    the way transformers' `padding=True, truncation=True, max_length=...` does for single texts."""
    from tokenizers import Tokenizer

    backend = Tokenizer.from_str(hf_tokenizer.backend_tokenizer.to_str())
    backend.enable_truncation(max_length, strategy="longest_first",
                              direction=getattr(hf_tokenizer, "truncation_side", "right"))
    backend.enable_padding(direction=getattr(hf_tokenizer, "padding_side", "right"),
                           pad_id=hf_tokenizer.pad_token_id, pad_token=hf_tokenizer.pad_token,
                           pad_type_id=getattr(hf_tokenizer, "pad_token_type_id", 0) or 0,
                           pad_to_multiple_of=pad_to_multiple_of)
    return backend
