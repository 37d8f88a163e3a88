"""Evaluation overlap: which training pairs leak a BEIR evaluation set, and why.

A pair is contaminated when
- its query or its passage, normalised (casefolded words, punctuation and spacing ignored), equals
  an evaluation query: reason `eval_query`; or
- its query or its passage shares a word n-gram (default 13 words, the GPT-3 paper's choice) with
  an evaluation query or a judged passage: reason `eval_ngram`.
"Judged passages" are the corpus documents named in the qrels of an evaluation split (every
qrels/*.tsv except train.tsv), title + text as BEIR's dense models read them; a folder without
qrels has all its corpus documents judged. The n-grams are kept as one sorted uint64 array of
64-bit hashes (8 bytes per n-gram), so even a large evaluation set fits each worker.
"""

import contextlib
import csv
import dataclasses
import hashlib
import io
import json
from typing import Dict, Iterator, List, Optional, Sequence, Set

import numpy as np
import pyarrow.fs as pafs

from schemas import reasons
from schemas.versions import join, resolve
from sources.text.ngrams import ngram_hashes, normalized_words

NGRAM_WORDS = 13
BEIR_FILES = ("queries.jsonl", "corpus.jsonl")


class EvalDataError(ValueError):
    """A --decontaminate folder that is not a readable BEIR folder."""


@contextlib.contextmanager
def _open_text(path: str):
    """A local path or a gs:// / s3:// URI as a text stream (workers read the folder themselves)."""
    fs, fs_path = resolve(path)
    with fs.open_input_stream(fs_path, compression=None) as raw:
        yield io.TextIOWrapper(io.BufferedReader(raw), encoding="utf-8", newline="")


def _kind(path: str) -> pafs.FileType:
    fs, fs_path = resolve(path)
    return fs.get_file_info(fs_path).type


def _jsonl(path: str) -> Iterator[dict]:
    with _open_text(path) as handle:
        for line_no, line in enumerate(handle, 1):
            if line.strip():
                try:
                    yield json.loads(line)
                except json.JSONDecodeError as exc:
                    raise EvalDataError(f"{path}:{line_no}: not JSON ({exc})") from None


def check_beir_folder(folder: str) -> None:
    if _kind(folder) != pafs.FileType.Directory:
        raise EvalDataError(f"--decontaminate {folder}: no such folder")
    missing = [name for name in BEIR_FILES if _kind(join(folder, name)) != pafs.FileType.File]
    if missing:
        raise EvalDataError(f"--decontaminate {folder} holds no {', '.join(missing)} (not a BEIR folder)")


def evaluation_qrels(folder: str) -> List[str]:
    """The qrels files of evaluation splits (every qrels/*.tsv but train.tsv), sorted."""
    fs, fs_path = resolve(join(folder, "qrels"))
    entries = fs.get_file_info(pafs.FileSelector(fs_path, allow_not_found=True))
    names = sorted(e.base_name for e in entries if e.is_file and e.base_name.endswith(".tsv"))
    return [join(folder, "qrels", n) for n in names if n != "train.tsv"]


def judged_ids(qrels_files: Sequence[str]) -> Optional[Set[str]]:
    """Corpus ids the qrels name (any grade); None when there are no qrels."""
    if not qrels_files:
        return None
    ids: Set[str] = set()
    for path in qrels_files:
        with _open_text(path) as handle:
            for row in csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE):
                if len(row) == 4:  # TREC layout: qid 0 docid grade
                    row = [row[0], row[2], row[3]]
                if len(row) == 3 and row[0] != "query-id":
                    ids.add(row[1])
    return ids


@dataclasses.dataclass(frozen=True)
class EvalSet:
    """Normalised evaluation queries and the sorted hashes of every evaluation n-gram."""

    queries: frozenset
    ngrams: np.ndarray  # sorted unique uint64
    ngram_words: int
    summary: tuple  # per folder: (path, queries, judged passages, fingerprint)

    def reason(self, query: str, passage: str) -> Optional[str]:
        """eval_query, eval_ngram or None for one pair."""
        if normalized_words(query) in self.queries or normalized_words(passage) in self.queries:
            return reasons.DROP_EVAL_QUERY
        if self.ngrams.size and (self._shares_ngram(query) or self._shares_ngram(passage)):
            return reasons.DROP_EVAL_NGRAM
        return None

    def _shares_ngram(self, text: str) -> bool:
        grams = ngram_hashes(text, self.ngram_words)
        if not grams.size:
            return False
        at = np.searchsorted(self.ngrams, grams)
        at[at == self.ngrams.size] = 0
        return bool(np.any(self.ngrams[at] == grams))

    def describe(self) -> List[Dict[str, object]]:
        return [{"path": path, "queries": q, "judged_passages": p, "sha256": sha}
                for path, q, p, sha in self.summary]


def _fingerprint(paths: Sequence[str]) -> str:
    """sha256 over the files an EvalSet was read from, so the manifest says which data it was."""
    digest = hashlib.sha256()
    for path in paths:
        fs, fs_path = resolve(path)
        with fs.open_input_stream(fs_path, compression=None) as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def eval_fingerprint(folder: str) -> str:
    """sha256 of what a folder contributes (queries, corpus, evaluation qrels): a changed eval set shows."""
    return _fingerprint([join(folder, name) for name in BEIR_FILES] + evaluation_qrels(folder))


def load_eval_set(folders: Sequence[str], ngram_words: int = NGRAM_WORDS) -> EvalSet:
    """Read BEIR folders (local paths or URIs) into one EvalSet."""
    if ngram_words < 1:
        raise ValueError(f"--ngram_words must be at least 1, not {ngram_words}")
    queries: Set[str] = set()
    chunks: List[np.ndarray] = []
    summary = []
    for folder in folders:
        check_beir_folder(folder)
        n_queries = n_passages = 0
        for row in _jsonl(join(folder, "queries.jsonl")):
            text = str(row.get("text") or "")
            if normalized_words(text):
                queries.add(normalized_words(text))
                chunks.append(ngram_hashes(text, ngram_words))
                n_queries += 1
        qrels = evaluation_qrels(folder)
        judged = judged_ids(qrels)
        for row in _jsonl(join(folder, "corpus.jsonl")):
            if judged is None or str(row.get("_id")) in judged:
                text = f"{row.get('title') or ''} {row.get('text') or ''}".strip()
                chunks.append(ngram_hashes(text, ngram_words))
                n_passages += 1
        summary.append((folder, n_queries, n_passages, eval_fingerprint(folder)))
    ngrams = np.unique(np.concatenate(chunks)) if chunks else np.empty(0, dtype=np.uint64)
    return EvalSet(frozenset(queries), ngrams.astype(np.uint64), ngram_words, tuple(summary))
