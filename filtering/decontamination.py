"""Evaluation overlap: which training pairs leak a BEIR evaluation set, and why.

A pair is contaminated when
- its query or its passage, normalised (casefolded words, punctuation and spacing ignored), equals
  an evaluation query: reason `eval_query`; or
- its query or its passage shares a word n-gram (default 13 words, the GPT-3 paper's choice) with
  an evaluation query or a judged passage: reason `eval_ngram`.
"Judged passages" are the corpus documents named in the qrels of an evaluation split (every
qrels/*.tsv except train.tsv), title + text as BEIR's dense models read them; a folder without
qrels has all its corpus documents judged. A qrels file is BEIR (a header, then tab-separated
query-id, corpus-id, score) or TREC (`qid 0 docid rel`, whitespace); anything else, a query or
corpus line that is not a JSON object, or qrels that name no corpus document, is an EvalDataError. The n-grams are kept as one sorted uint64 array of
64-bit hashes (8 bytes per n-gram), so even a large evaluation set fits each worker.

An n-gram's hash is computed with numpy for a whole batch of texts: each word is hashed once
(64-bit blake2b, cached per process), an n-gram is the polynomial sum of its words' hashes mod 2^64
(an odd multiplier), finished with the MurmurHash3 64-bit mix. Evaluation n-grams and pair n-grams
go through the same function, so only a 64-bit collision could make a difference (as before).
"""

import contextlib
import dataclasses
import functools
import hashlib
import io
import itertools
import json
from typing import Dict, FrozenSet, Iterator, List, NamedTuple, Optional, Sequence, Set

import numpy as np
import pyarrow as pa
import pyarrow.fs as pafs

from schemas import reasons
from schemas.versions import join, resolve
from sources.text.ngrams import words

NGRAM_WORDS = 13
BEIR_FILES = ("queries.jsonl", "corpus.jsonl")
_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)  # odd: the n-gram hash is a polynomial in it
BITMAP_BITS = 25  # the evaluation n-grams' membership bitmap: 2**25 bits (4 MiB)
_WORD_CACHE_MAX = 1 << 20  # word hashes kept per process before the cache starts again
_word_cache: Dict[str, int] = {}


def _word_hash(word: str) -> int:
    value = int.from_bytes(hashlib.blake2b(word.encode("utf-8"), digest_size=8).digest(), "little")
    if len(_word_cache) >= _WORD_CACHE_MAX:
        _word_cache.clear()
    _word_cache[word] = value
    return value


def _fmix64(h: np.ndarray) -> np.ndarray:
    h = h ^ (h >> np.uint64(33))
    h = h * np.uint64(0xFF51AFD7ED558CCD)
    h = h ^ (h >> np.uint64(33))
    h = h * np.uint64(0xC4CEB9FE1A85EC53)
    return h ^ (h >> np.uint64(33))


class WordHashes(NamedTuple):
    """The 64-bit hash of every word of a batch of token lists, end to end, and each list's length:
    what every n-gram hash of the batch is computed from, so a batch's words are hashed once for
    decontamination and MinHash alike."""

    flat: np.ndarray  # uint64, one per word
    lengths: np.ndarray  # int64, words per list

    @classmethod
    def of(cls, token_lists: Sequence[List[str]]) -> "WordHashes":
        """Each distinct word of the batch looked up once (pyarrow's dictionary encoding in C, then the
        per-process cache of blake2b word hashes): one dict lookup per distinct word, not per word."""
        lengths = np.fromiter(map(len, token_lists), dtype=np.int64, count=len(token_lists))
        if not lengths.any():
            return cls(np.empty(0, np.uint64), lengths)
        total = int(lengths.sum())
        encoded = pa.array(itertools.chain.from_iterable(token_lists), type=pa.string(), size=total).dictionary_encode()
        distinct = encoded.dictionary.to_pylist()
        cached = list(map(_word_cache.get, distinct))
        if None in cached:
            cached = [_word_hash(w) if h is None else h for w, h in zip(distinct, cached)]
        flat = np.array(cached, dtype=np.uint64)[encoded.indices.to_numpy(zero_copy_only=False)]
        return cls(flat, lengths)

    def __add__(self, other: "WordHashes") -> "WordHashes":  # the lists of self, then those of other
        return WordHashes(np.concatenate([self.flat, other.flat]), np.concatenate([self.lengths, other.lengths]))

    def take(self, rows: np.ndarray) -> "WordHashes":
        """The lists at `rows`, in that order."""
        rows = np.asarray(rows, dtype=np.int64)
        lengths = self.lengths[rows]
        starts = (np.cumsum(self.lengths) - self.lengths)[rows]
        into = np.cumsum(lengths) - lengths  # where each taken list starts in the result
        positions = np.arange(int(lengths.sum())) + np.repeat(starts - into, lengths)
        return WordHashes(self.flat[positions], lengths)


def ngram_hash_array(token_lists, n: int):
    """(hashes, owners): the 64-bit hash of every word n-gram of every token list (repeats kept) and
    the index of the list it came from; lists under n words have none. token_lists: lists of words,
    or their WordHashes."""
    hashed = token_lists if isinstance(token_lists, WordHashes) else WordHashes.of(token_lists)
    flat, lengths = hashed
    total = int(lengths.sum())
    if total < n:
        return np.empty(0, np.uint64), np.empty(0, np.int64)
    windows = total - n + 1
    grams = np.zeros(windows, dtype=np.uint64)
    power = np.uint64(1)
    with np.errstate(over="ignore"):
        for i in range(n - 1, -1, -1):  # sum of word[i] * K**(n-1-i), mod 2**64
            grams += flat[i:i + windows] * power
            power = power * _MULTIPLIER
    starts = np.cumsum(lengths) - lengths
    valid = np.maximum(lengths - n + 1, 0)
    owners = np.repeat(np.arange(len(lengths)), valid)
    positions = np.arange(int(valid.sum())) - np.repeat(np.cumsum(valid) - valid, valid) + np.repeat(starts, valid)
    return _fmix64(grams[positions]), owners


def ngram_hashes(text: str, n: int) -> np.ndarray:
    """Sorted, distinct 64-bit hashes of the text's word n-grams (empty under n words)."""
    return np.unique(ngram_hash_array([words(text)], n)[0])


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


def _jsonl(path: str, text_fields: Sequence[str]) -> Iterator[dict]:
    """The JSON objects of a .jsonl file; `text_fields`, where present, must be strings. Anything else
    is an EvalDataError naming the line, so bad evaluation data is one line at launch, not a traceback."""
    try:
        with _open_text(path) as handle:
            for line_no, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise EvalDataError(f"{path}:{line_no}: not JSON ({exc})") from None
                if not isinstance(row, dict):
                    raise EvalDataError(f"{path}:{line_no}: a JSON {type(row).__name__}, not an object")
                bad = [f for f in text_fields if row.get(f) is not None and not isinstance(row[f], str)]
                if bad:
                    raise EvalDataError(f"{path}:{line_no}: {bad[0]!r} is a JSON {type(row[bad[0]]).__name__}, "
                                        "not a string")
                yield row
    except UnicodeDecodeError as exc:
        raise EvalDataError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start} of a block)") from None


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


def _is_int(text: str) -> bool:
    try:
        int(text)
    except ValueError:
        return False
    return True


def _beir_row_id(line: str) -> Optional[str]:
    """The corpus id of a BEIR qrels row (query-id, corpus-id, integer score; tab-separated)."""
    fields = line.split("\t")
    ok = len(fields) == 3 and fields[0].strip() and fields[1].strip() and _is_int(fields[2])
    return fields[1].strip() if ok else None


def _trec_row_id(line: str) -> Optional[str]:
    """The document id of a TREC qrels row (query-id, iteration, doc-id, integer relevance; whitespace)."""
    fields = line.split()
    return fields[2] if len(fields) == 4 and _is_int(fields[3]) else None


def _is_beir_header(line: str) -> bool:
    fields = line.split("\t")
    return len(fields) == 3 and all(f.strip() for f in fields) and not _is_int(fields[2])


def _not_qrels(path: str, line_no: int, line: str) -> EvalDataError:
    return EvalDataError(
        f"{path}:{line_no}: {line[:60]!r} is neither BEIR qrels (a header 'query-id<TAB>corpus-id<TAB>score', "
        "then three tab-separated columns) nor TREC qrels ('query-id 0 doc-id relevance')")


def qrels_corpus_ids(path: str) -> Set[str]:
    """The corpus ids one qrels file names (any grade), read in the form its first line shows: BEIR
    (tab-separated, a header first) or TREC (`qid 0 docid rel`, spaces or tabs). Any other line, or
    an empty file, is an EvalDataError: a misread qrels file would judge no passage and say nothing."""
    ids: Set[str] = set()
    row_id = None
    try:
        with _open_text(path) as handle:
            for line_no, line in enumerate(handle, 1):
                line = line.rstrip("\r\n")
                if not line.strip():
                    continue
                if row_id is None:
                    if _is_beir_header(line):
                        row_id = _beir_row_id
                        continue
                    row_id = _trec_row_id
                found = row_id(line)
                if found is None:
                    raise _not_qrels(path, line_no, line)
                ids.add(found)
    except UnicodeDecodeError:
        raise EvalDataError(f"{path}: not UTF-8 text") from None
    if row_id is None:
        raise EvalDataError(f"{path} is empty: BEIR qrels start with a header 'query-id<TAB>corpus-id<TAB>score'")
    return ids


def judged_ids(qrels_files: Sequence[str]) -> Optional[Set[str]]:
    """Corpus ids the qrels name (any grade); None when there are no qrels."""
    if not qrels_files:
        return None
    ids: Set[str] = set()
    for path in qrels_files:
        ids |= qrels_corpus_ids(path)
    return ids


def check_eval_folder(folder: str) -> None:
    """What can be checked without reading the corpus: the files are there, every query line is an
    object with a string text, every evaluation qrels file is BEIR or TREC (the schedule, before any job)."""
    check_beir_folder(folder)
    for _ in _jsonl(join(folder, "queries.jsonl"), ("text",)):
        pass
    judged_ids(evaluation_qrels(folder))


@dataclasses.dataclass(frozen=True)
class EvalSet:
    """Normalised evaluation queries and the sorted hashes of every evaluation n-gram."""

    queries: frozenset
    ngrams: np.ndarray  # sorted unique uint64
    ngram_words: int
    summary: tuple  # per folder: (path, queries, judged passages, fingerprint)

    def reason(self, query: str, passage: str) -> Optional[str]:
        """eval_query, eval_ngram or None for one pair."""
        return self.reasons([words(query)], [words(passage)])[0]

    def reasons(self, query_words: Sequence[List[str]], passage_words: Sequence[List[str]],
                passage_hashes: Optional[WordHashes] = None) -> List[Optional[str]]:
        """eval_query, eval_ngram or None per pair, from its query's and passage's words (a batch at once);
        passage_hashes: WordHashes.of(passage_words) when the caller has it already."""
        out: List[Optional[str]] = [None] * len(query_words)
        if self.ngrams.size:
            hashed = WordHashes.of(query_words) + (passage_hashes or WordHashes.of(passage_words))
            grams, owners = ngram_hash_array(hashed, self.ngram_words)
            maybe = np.flatnonzero(self._may_hold(grams))  # a bitmap first: most n-grams are no evaluation n-gram
            grams, owners = grams[maybe], owners[maybe]
            at = np.searchsorted(self.ngrams, grams)
            at[at == self.ngrams.size] = 0
            for i in np.unique(owners[self.ngrams[at] == grams] % max(1, len(query_words))).tolist():
                out[i] = reasons.DROP_EVAL_NGRAM
        queries = self.queries
        if queries:
            lengths = self._query_lengths  # a text can only equal a query with as many words
            for i, (q, p) in enumerate(zip(query_words, passage_words)):
                if ((len(q) in lengths and " ".join(q) in queries)
                        or (len(p) in lengths and " ".join(p) in queries)):
                    out[i] = reasons.DROP_EVAL_QUERY
        return out

    @functools.cached_property
    def _query_lengths(self) -> FrozenSet[int]:
        return frozenset(len(q.split(" ")) if q else 0 for q in self.queries)

    @functools.cached_property
    def _bitmap(self) -> np.ndarray:
        """One bit per value of an n-gram hash's top BITMAP_BITS bits, set for every evaluation n-gram
        (4 MiB): a pair n-gram whose bit is clear is no evaluation n-gram, without a binary search."""
        bits = np.zeros(1 << (BITMAP_BITS - 3), dtype=np.uint8)
        top = self.ngrams >> np.uint64(64 - BITMAP_BITS)
        np.bitwise_or.at(bits, (top >> np.uint64(3)).astype(np.intp), np.left_shift(1, top & np.uint64(7)).astype(np.uint8))
        return bits

    def _may_hold(self, grams: np.ndarray) -> np.ndarray:
        top = grams >> np.uint64(64 - BITMAP_BITS)
        return (self._bitmap[(top >> np.uint64(3)).astype(np.intp)] >> (top & np.uint64(7)).astype(np.uint8)) & 1 > 0

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
        texts: List[List[str]] = []
        n_queries = n_passages = 0
        for row in _jsonl(join(folder, "queries.jsonl"), ("text",)):
            tokens = words(row.get("text") or "")
            if tokens:
                queries.add(" ".join(tokens))
                texts.append(tokens)
                n_queries += 1
        qrels = evaluation_qrels(folder)
        judged = judged_ids(qrels)
        for row in _jsonl(join(folder, "corpus.jsonl"), ("title", "text")):
            if judged is None or str(row.get("_id")) in judged:
                texts.append(words(f"{row.get('title') or ''} {row.get('text') or ''}".strip()))
                n_passages += 1
            if len(texts) >= 10_000:
                chunks.append(np.unique(ngram_hash_array(texts, ngram_words)[0]))
                texts = []
        chunks.append(np.unique(ngram_hash_array(texts, ngram_words)[0]))
        if judged and not n_passages:
            raise EvalDataError(f"--decontaminate {folder}: its qrels name {len(judged)} corpus ids and none is an "
                                "_id in corpus.jsonl, so no passage would be judged")
        summary.append((folder, n_queries, n_passages, eval_fingerprint(folder)))
    ngrams = np.unique(np.concatenate(chunks)) if chunks else np.empty(0, dtype=np.uint64)
    return EvalSet(frozenset(queries), ngrams.astype(np.uint64), ngram_words, tuple(summary))
