"""Write an encoder so that both transformers.AutoModel and sentence_transformers.SentenceTransformer
load it, with pooling, normalisation and prefixes carried along.

Layout (sentence-transformers' own, plus one file of ours):
  config.json, model.safetensors, tokenizer files   -> AutoModel / AutoTokenizer
  modules.json, sentence_bert_config.json           -> ST: Transformer(path "") -> Pooling -> Normalize
  1_Pooling/config.json                             -> mean pooling
  2_Normalize/                                      -> L2 normalisation (no config)
  config_sentence_transformers.json                 -> prompts {"query": ..., "passage": ...}
  ccpairs_encoder.json                              -> prefixes and the two max lengths (ST has one)
ST truncates both sides at max_seq_length (= the passage max length); ours truncates queries earlier.
"""

from __future__ import annotations

import hashlib
import json
import os
import pathlib
from typing import Any, Dict

from model.atomic import atomic_folder
from model.encoder import ENCODER_CONFIG_NAME, ST_BERT_CONFIG_NAME, ST_CONFIG_NAME, TextEncoder
from schemas.versions import write_bytes

ST_MODULES = [
    {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
    {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
    {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
]
ENCODER_FORMAT_VERSION = 1
# Weight files: left out of a tokenizer's fingerprint (folder_fingerprint(..., weights=False)).
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".h5", ".onnx", ".msgpack", ".ckpt")


def folder_fingerprint(folder: os.PathLike | str, weights: bool = True) -> str:
    """blake2b of every file's relative name and bytes: the same model wherever it is mounted, and
    another one as soon as a file changes. weights=False: the tokenizer and config files only."""
    folder = pathlib.Path(folder)
    digest = hashlib.blake2b(digest_size=16)
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        if not weights and path.name.endswith(WEIGHT_SUFFIXES):
            continue
        digest.update(str(path.relative_to(folder)).encode() + b"\0")
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def pooling_config(dim: int) -> Dict[str, Any]:
    return {
        "word_embedding_dimension": dim,
        "pooling_mode_cls_token": False,
        "pooling_mode_mean_tokens": True,
        "pooling_mode_max_tokens": False,
        "pooling_mode_mean_sqrt_len_tokens": False,
        "pooling_mode_weightedmean_tokens": False,
        "pooling_mode_lasttoken": False,
        "include_prompt": True,
    }


def st_config(encoder: TextEncoder) -> Dict[str, Any]:
    s = encoder.settings
    return {
        "prompts": {"query": s.query_prefix, "passage": s.passage_prefix},
        "default_prompt_name": None,
        "similarity_fn_name": "cosine",
    }


def save_encoder(encoder: TextEncoder, path: os.PathLike | str) -> pathlib.Path:
    """Write the model folder atomically: built in a hidden sibling folder, then swapped in whole,
    so a half-saved model never appears under `path` (model.atomic.atomic_folder)."""
    final = pathlib.Path(path)
    with atomic_folder(final) as tmp:
        encoder.backbone.save_pretrained(str(tmp), safe_serialization=True)
        encoder.tokenizer.save_pretrained(str(tmp))
        settings = encoder.settings
        write_json(tmp / ENCODER_CONFIG_NAME, {"format_version": ENCODER_FORMAT_VERSION,
                                              "pooling": "mean", "normalize": True, **settings.to_dict()})
        write_json(tmp / "modules.json", ST_MODULES)
        write_json(tmp / ST_BERT_CONFIG_NAME,
                   {"max_seq_length": max(settings.query_max_length, settings.passage_max_length),
                    "do_lower_case": False})
        write_json(tmp / ST_CONFIG_NAME, st_config(encoder))
        write_json(tmp / "1_Pooling" / "config.json", pooling_config(encoder.dim))
        (tmp / "2_Normalize").mkdir()
    return final


def write_json(path: pathlib.Path, value: Any) -> None:
    write_bytes(path, (json.dumps(value, indent=2) + "\n").encode())
