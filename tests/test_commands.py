"""Every command refuses a bad command line with one line on stderr, before doing any work.

CASES is the table: (module, argv, text the one stderr line must contain). argv items may name
the paths of the `workspace` fixture as "{name}" (see PLACEHOLDERS). A command is any module with
`main(argv)` or `run(argv)`; append rows for new commands.
"""

import contextlib
import importlib
import io
import json
import os
import pathlib
import subprocess

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

PLACEHOLDERS = {
    "tmp": "the test's folder",
    "out": "an output folder that does not exist yet",
    "pairs": "a folder holding one complete pair version (source 'alpha', 2 shards)",
    "model": "a folder with a config.json (never loaded: loading a model fails these tests)",
    "config": "a BertConfig JSON file",
    "bad_json": "a file that is not JSON",
    "file": "an existing regular file",
    "missing": "a path that does not exist",
    "empty": "an existing empty folder",
    "beir": "a BEIR folder: corpus.jsonl, queries.jsonl, qrels/test.tsv",
    "versions": "an output root holding complete versions reddit/v1 and stackexchange/v1",
    "links": "an output root whose reddit/v1 and ccpairs/c1 are symbolic links to complete versions elsewhere",
    "old_schema": "a complete version (source 'reddit') whose manifest says schema_version 1.0.0",
    "bad_beir": "a BEIR folder whose queries.jsonl's second line is a JSON list",
    "csv_qrels": "a BEIR folder whose qrels/test.tsv is comma-separated",
}


def _cuda_absent():
    import torch

    return torch.cuda.device_count() == 0


def _faiss_gpu_absent():
    from filtering.index import available_backends

    return "faiss-gpu" not in available_backends()


def when(condition, reason, *row):
    """A row that runs only where it can fail (e.g. --device cuda on a machine without CUDA)."""
    return pytest.param(*row, marks=pytest.mark.skipif(not condition(), reason=reason))


TRAIN = ["--pairs", "{pairs}", "--output", "{out}", "--device", "cpu"]
TRAIN_RUN = TRAIN + ["--init_config", "{config}", "--max_steps", "2"]
EMBED = ["--model", "{model}", "--input", "{pairs}/alpha/v1", "--output", "{tmp}/vectors.npy"]
EVALUATE = ["--model", "{model}", "--data", "{beir}"]
FILTER = ["--model", "{model}", "--pairs", "{pairs}", "--output", "{out}", "--device", "cpu"]
MAIN = ["--output", "{out}", "--demo"]
REDDIT = ["--input", "{file}", "--output", "{out}", "--version", "v1"]
SE = ["--input", "{file}", "--output", "{out}", "--version", "v1"]
WIKI = ["--input", "{file}", "--output", "{out}", "--version", "v1"]
CORPUS = ["--input", "{versions}/reddit/v1", "--input", "{versions}/stackexchange/v1", "--output", "{out}",
          "--version", "c1"]

CASES = [
    # model.train
    ("model.train", TRAIN_RUN + ["--frobnicate"], "unknown flag --frobnicate"),
    ("model.train", TRAIN_RUN + ["--batch-size", "8"], "unknown flag --batch-size (did you mean --batch_size?)"),
    ("model.train", TRAIN_RUN + ["--max-steps=3"], "unknown flag --max-steps (did you mean --max_steps?)"),
    ("model.train", TRAIN_RUN + ["--batch", "8"], "unknown flag --batch (did you mean --batch_size?)"),
    ("model.train", TRAIN_RUN + ["--save_evry", "8"], "did you mean --save_every?"),
    ("model.train", TRAIN_RUN + ["--batch_size", "0"], "argument --batch_size: expected a positive integer"),
    ("model.train", TRAIN_RUN + ["--batch_size", "1"], "--batch_size must be at least 2"),
    ("model.train", TRAIN + ["--init_config", "{config}", "--max_steps", "0"], "argument --max_steps"),
    ("model.train", TRAIN + ["--init_config", "{config}"], "one of the arguments --max_steps --epochs is required"),
    ("model.train", TRAIN_RUN + ["--epochs", "1"], "not allowed with argument"),
    ("model.train", TRAIN_RUN + ["--save_every", "0"], "argument --save_every: expected a positive integer"),
    ("model.train", TRAIN_RUN + ["--log_every", "0"], "argument --log_every"),
    ("model.train", TRAIN_RUN + ["--lr", "-1"], "argument --lr: expected a positive number, got '-1'"),
    ("model.train", TRAIN_RUN + ["--lr", "nan"], "argument --lr"),
    ("model.train", TRAIN_RUN + ["--chunk_size", "-1"], "argument --chunk_size"),
    ("model.train", TRAIN_RUN + ["--warmup_ratio", "2"], "argument --warmup_ratio"),
    ("model.train", TRAIN_RUN + ["--query_max_length", "0"], "argument --query_max_length"),
    ("model.train", TRAIN_RUN + ["--scale", "0"], "argument --scale"),
    ("model.train", TRAIN_RUN + ["--source_weights", "alpha"], "expected SOURCE=WEIGHT"),
    ("model.train", TRAIN_RUN + ["--source_weights", "alpha=-2"], "argument --source_weights"),
    ("model.train", TRAIN_RUN + ["--source_weights", "beta=1"], "source weights: unknown ['beta']"),
    ("model.train", TRAIN_RUN + ["--hard_negative_column", "nope"], "--hard_negative_column nope: no such column"),
    ("model.train", TRAIN_RUN + ["--resume"], "--resume: no checkpoint"),
    ("model.train", TRAIN + ["--init_config", "{bad_json}", "--max_steps", "2"], "is not valid JSON"),
    ("model.train", TRAIN + ["--init_config", "{missing}", "--max_steps", "2"], "no such file"),
    ("model.train", TRAIN + ["--init_config", "[1, 2]", "--max_steps", "2"], "argument --init_config"),
    ("model.train", TRAIN + ["--init_config", "{empty}", "--max_steps", "2"], "holds no config.json"),
    ("model.train", TRAIN + ["--model", "{missing}", "--max_steps", "2"], "argument --model: no such folder"),
    ("model.train", TRAIN + ["--model", "{model}", "--tokenizer", "{model}", "--max_steps", "2"],
     "--tokenizer goes with --init_config"),
    ("model.train", ["--pairs", "{pairs}", "--output", "{file}", "--init_config", "{config}", "--max_steps", "2"],
     "argument --output: {file} is an existing file"),
    ("model.train", ["--pairs", "{missing}", "--output", "{out}", "--init_config", "{config}", "--max_steps", "2"],
     "argument --pairs: no such file or folder"),
    ("model.train", ["--pairs", "{empty}", "--output", "{out}", "--init_config", "{config}", "--max_steps", "2"],
     "no complete version dir"),
    ("model.train", TRAIN_RUN + ["stray"], "unexpected argument 'stray'"),
    ("model.train", TRAIN_RUN + ["--passage_max_length", "128"],
     "--passage_max_length 128 is more than the model's 64 positions"),
    ("model.train", TRAIN_RUN + ["--query_max_length", "65"], "--query_max_length 65 is more than the model's 64"),
    when(_cuda_absent, "this machine has CUDA",
         "model.train", TRAIN_RUN + ["--device", "cuda"], "argument --device: cuda: no such CUDA device"),
    ("model.train", TRAIN_RUN + ["--prefetch_batches", "-1"], "argument --prefetch_batches: expected an integer >= 0"),
    ("model.train", TRAIN_RUN + ["--prefetch-batches", "2"], "did you mean --prefetch_batches?"),
    # model.embed
    ("model.embed", EMBED + ["--frobnicate"], "unknown flag --frobnicate"),
    ("model.embed", EMBED + ["--batch-size", "8"], "unknown flag --batch-size (did you mean --batch_size?)"),
    ("model.embed", EMBED + ["--batch_size", "0"], "argument --batch_size"),
    ("model.embed", EMBED + ["--kind", "title"], "argument --kind: invalid choice"),
    ("model.embed", EMBED + ["--column", "nope"], "--column nope: no such column"),
    ("model.embed", EMBED + ["--device", "tpu"], "argument --device"),
    ("model.embed", EMBED + ["--devices", "tpu"], "argument --devices: expected auto, cpu, cuda or cuda:N"),
    ("model.embed", EMBED + ["--devices"], "argument --devices: expected at least one argument"),
    ("model.embed", EMBED + ["--device", "cpu", "--devices", "cpu"], "give --device or --devices, not both"),
    ("model.embed", EMBED + ["--model_dtype", "float16"], "argument --model_dtype: invalid choice"),
    ("model.embed", EMBED + ["--tokenizer_threads", "-1"], "argument --tokenizer_threads"),
    ("model.embed", EMBED + ["--model-dtype", "auto"], "did you mean --model_dtype?"),
    when(_cuda_absent, "this machine has CUDA",
         "model.embed", EMBED + ["--devices", "all"], "argument --devices: all: no CUDA device on this machine"),
    when(_cuda_absent, "this machine has CUDA",
         "model.embed", EMBED + ["--devices", "cpu", "cuda:1"], "argument --devices: cuda:1: no such CUDA device"),
    ("model.embed", ["--input", "{missing}", "--output", "{tmp}/v.npy"], "argument --input: no such file or folder"),
    ("model.embed", ["--input", "{file}", "--output", "{tmp}/v.npy"], "is not readable Parquet"),
    ("model.embed", ["--input", "{empty}", "--output", "{tmp}/v.npy"], "no .parquet files"),
    ("model.embed", ["--input", "{pairs}/alpha/v1", "--output", "{tmp}"], "is an existing folder"),
    ("model.embed", ["--input", "{pairs}/alpha/v1", "--output", "{missing}/v.npy"], "does not exist"),
    ("model.embed", ["--input", "{pairs}/alpha/v1", "--output", "{tmp}/v.npy", "--model", "{empty}"],
     "holds no config.json"),
    # model.evaluate
    ("model.evaluate", EVALUATE + ["--frobnicate"], "unknown flag --frobnicate"),
    ("model.evaluate", EVALUATE + ["--query-prefix", ""], "unknown flag --query-prefix (did you mean --query_prefix?)"),
    ("model.evaluate", EVALUATE + ["--batch_size", "0"], "argument --batch_size"),
    ("model.evaluate", EVALUATE + ["--split", "dev"], "holds no qrels/dev.tsv"),
    ("model.evaluate", ["--data", "{missing}"], "argument --data: no such folder"),
    ("model.evaluate", ["--data", "{empty}"], "holds no corpus.jsonl"),
    ("model.evaluate", ["--model", "{model}"], "the following arguments are required: --data"),
    # filtering.filter_pairs
    ("filtering.filter_pairs", FILTER + ["--frobnicate"], "unknown flag --frobnicate"),
    ("filtering.filter_pairs", FILTER + ["--pool-size", "5"], "unknown flag --pool-size (did you mean --pool_size?)"),
    ("filtering.filter_pairs", FILTER + ["--pool_size", "0"], "argument --pool_size: expected a positive integer"),
    ("filtering.filter_pairs", FILTER + ["--k", "0"], "argument --k: expected a positive integer"),
    ("filtering.filter_pairs", FILTER + ["--batch_size", "0"], "argument --batch_size"),
    ("filtering.filter_pairs", FILTER + ["--shard", "3/2"], "argument --shard: expected i/N with 0 <= i < N"),
    ("filtering.filter_pairs", FILTER + ["--shard", "one/two"], "argument --shard"),
    ("filtering.filter_pairs", FILTER + ["--backend", "gpu"], "argument --backend: invalid choice"),
    ("filtering.filter_pairs", FILTER + ["--precision", "int8"], "argument --precision: invalid choice"),
    ("filtering.filter_pairs", FILTER + ["--devices", "cpu", "cpu"], "give --device or --devices, not both"),
    ("filtering.filter_pairs", FILTER + ["--devices", "gpu"], "argument --devices"),
    ("filtering.filter_pairs", FILTER + ["--model_dtype", "int8"], "argument --model_dtype: invalid choice"),
    ("filtering.filter_pairs", FILTER + ["--tokenizer_threads", "x"], "argument --tokenizer_threads"),
    ("filtering.filter_pairs", ["--pairs", "{pairs}", "--output", "{file}"], "is an existing file"),
    ("filtering.filter_pairs", ["--pairs", "{missing}", "--output", "{out}"], "argument --pairs: no such file"),
    ("filtering.filter_pairs", ["--pairs", "{empty}", "--output", "{out}"], "no complete version dir"),
    ("filtering.filter_pairs", ["--pairs", "{pairs}", "--output", "{out}", "--model", "{missing}"],
     "argument --model"),
    when(_faiss_gpu_absent, "faiss-gpu is available here",
         "filtering.filter_pairs", FILTER + ["--backend", "faiss-gpu"], "--backend faiss-gpu is not available"),
    ("filtering.filter_pairs", FILTER + ["--version", "{tmp}", "--overwrite"], "argument --version: bad version"),
    ("filtering.filter_pairs", FILTER + ["--version", "../../x", "--overwrite"], "bad version '../../x'"),
    ("filtering.filter_pairs", FILTER + ["--version", "a/b"], "bad version 'a/b'"),
    ("filtering.filter_pairs", FILTER + ["--version", "a\\b"], "argument --version: bad version"),
    ("filtering.filter_pairs", FILTER + ["--version", ".."], "bad version '..'"),
    ("filtering.filter_pairs", FILTER + ["--version", "."], "bad version '.'"),
    ("filtering.filter_pairs", FILTER + ["--version", ""], "bad version ''"),
    ("filtering.filter_pairs", FILTER + ["--version", "LATEST"], "argument --version: bad version 'LATEST'"),
    ("filtering.filter_pairs", FILTER + ["--version", ".v1"], "may not start with '.'"),
    ("filtering.filter_pairs", FILTER + ["--version", "v1\tv2"], "may not hold control characters"),
    # pipelines.main
    ("pipelines.main", MAIN + ["--frobnicate"], "unknown flag --frobnicate"),
    ("pipelines.main", MAIN + ["--train-steps", "2"], "unknown flag --train-steps (did you mean --train_steps?)"),
    ("pipelines.main", MAIN + ["--batch-size", "8"], "did you mean --batch_size?"),
    ("pipelines.main", MAIN + ["--train_steps", "0"], "argument --train_steps"),
    ("pipelines.main", MAIN + ["--batch_size", "0"], "argument --batch_size"),
    ("pipelines.main", MAIN + ["--version", "LATEST"], "argument --version"),
    ("pipelines.main", MAIN + ["--batch_size", "1"], "--batch_size must be at least 2"),
    ("pipelines.main", MAIN + ["--chunk_size", "-1"], "argument --chunk_size"),
    ("pipelines.main", MAIN + ["--lr", "-1"], "argument --lr"),
    ("pipelines.main", MAIN + ["--pool_size", "0"], "argument --pool_size"),
    ("pipelines.main", MAIN + ["--k", "0"], "argument --k"),
    ("pipelines.main", MAIN + ["--eval_data", "{empty}"], "argument --eval_data: {empty} holds no corpus.jsonl"),
    ("pipelines.main", MAIN + ["--base_model", "{missing}"], "argument --base_model: no such folder"),
    ("pipelines.main", MAIN + ["--reddit_input", "{file}"], "not both"),
    ("pipelines.main", ["--output", "{out}"], "give --demo or at least one"),
    ("pipelines.main", ["--output", "{out}", "--reddit_input", "{missing}/RC_*.zst"], "matches no file"),
    ("pipelines.main", ["--output", "{file}", "--demo"], "argument --output: {file} is an existing file"),
    ("pipelines.main", ["--output", "{file}/sub", "--demo"], "is a file, not a folder"),
    # the source pipelines (Beam options pass through; ours and Beam's are checked together)
    ("pipelines.reddit", REDDIT + ["--frobnicate"], "unknown flag --frobnicate"),
    ("pipelines.reddit", REDDIT + ["--top-n", "3"], "unknown flag --top-n (did you mean --top_n?)"),
    ("pipelines.reddit", REDDIT + ["--temp-location", "gs://b/t"], "did you mean --temp_location?"),
    ("pipelines.reddit", REDDIT + ["--top_n", "0"], "--top_n must be at least 1, not 0"),
    ("pipelines.reddit", REDDIT + ["--top_n", "two"], "argument --top_n: invalid int value: 'two'"),
    ("pipelines.reddit", REDDIT + ["--max_passage_chars", "0"], "--max_passage_chars must be at least 1"),
    ("pipelines.reddit", REDDIT + ["--min_reply_words", "-1"], "--min_reply_words must be >= 0"),
    ("pipelines.reddit", REDDIT + ["--num_shards", "-1"], "--num_shards must be >= 0"),
    ("pipelines.reddit", REDDIT + ["--version", "../x"], "--version: bad version '../x'"),
    ("pipelines.reddit", REDDIT + ["stray"], "unexpected argument 'stray'"),
    ("pipelines.reddit", REDDIT[:-1] + ["LATEST"], "--version: bad version 'LATEST': LATEST is reserved"),
    ("pipelines.reddit", REDDIT[:-1] + [".v1.staging-0123456789abcdef"], "may not start with '.'"),
    ("pipelines.reddit", REDDIT[:-1] + ["v1\nv2"], "bad version 'v1\\nv2': a version name may not hold control"),
    ("pipelines.reddit", ["--input", "{file}", "--output", "{links}", "--version", "v1", "--overwrite"],
     "{links}/reddit/v1 is a symbolic link"),
    ("pipelines.reddit", REDDIT + ["--dry_run=True"], "--dry_run works with --runner=DataflowRunner only"),
    ("pipelines.reddit", REDDIT + ["--runner=DirectRunner", "--dry_run", "1"], "a local run would write the whole version"),
    ("pipelines.reddit", ["--output", "{out}"], "at least one --input is required"),
    ("pipelines.reddit", ["--input", "{file}"], "--output is required"),
    ("pipelines.reddit", ["--input", "{missing}/RC_*.zst", "--output", "{out}"], "matches no file"),
    ("pipelines.reddit", ["--input", "{file}", "--output", "{file}"], "is a file, not a folder"),
    ("pipelines.reddit", ["--input", "{file}", "--output", "{versions}", "--version", "v1"],
     "is a complete version"),
    ("pipelines.stackexchange", SE + ["--split-mb", "8"], "unknown flag --split-mb (did you mean --split_mb?)"),
    ("pipelines.stackexchange", SE + ["--split_mb", "-1"], "--split_mb must be >= 0"),
    ("pipelines.stackexchange", SE + ["--top_n", "0"], "--top_n must be at least 1"),
    ("pipelines.stackexchange", SE + ["--drop_nsfw"], "unknown flag --drop_nsfw"),
    ("pipelines.stackexchange", SE[:-1] + ["latest"], "--version: bad version 'latest'"),
    ("pipelines.stackexchange", ["--input", "{file}", "--output", "{versions}", "--version", "v1"],
     "is a complete version"),
    ("pipelines.semanticscholar", SE + ["--citation-pairs", "title-title"],
     "unknown flag --citation-pairs (did you mean --citation_pairs?)"),
    ("pipelines.semanticscholar", SE + ["--citation_pairs", "body-body"], "--citation_pairs must be one of"),
    ("pipelines.semanticscholar", SE + ["--max_citations_per_paper", "0"], "must be at least 1, not 0"),
    ("pipelines.semanticscholar", SE + ["--min_abstract_chars", "-1"], "must be >= 0"),
    ("pipelines.semanticscholar", SE + ["--top_n", "3"], "unknown flag --top_n"),
    ("pipelines.commoncrawl", SE + ["--max-html-bytes", "9"],
     "unknown flag --max-html-bytes (did you mean --max_html_bytes?)"),
    ("pipelines.commoncrawl", SE + ["--max_record_bytes", "0"], "--max_record_bytes must be at least 1"),
    ("pipelines.commoncrawl", SE + ["--max_record_bytes", "lots"],
     "argument --max_record_bytes: invalid int value: 'lots'"),
    ("pipelines.commoncrawl", SE + ["--max_bullet_lines", "2"], "must be a fraction between 0 and 1"),
    ("pipelines.commoncrawl", SE + ["--min_title_chars", "300"], "must not exceed --max_title_chars"),
    ("pipelines.commoncrawl", SE + ["--max_perplexity", "0"], "--max_perplexity must be positive"),
    ("pipelines.commoncrawl", SE + ["--lm_model", "{missing}/x.arpa"], "is not a local file"),
    ("pipelines.commoncrawl", SE + ["--top_n", "2"], "unknown flag --top_n"),
    ("pipelines.commoncrawl", ["--input", "{missing}/*.warc.gz", "--output", "{out}"], "matches no file"),
    ("pipelines.wikipedia", WIKI + ["--split-mb", "8"], "unknown flag --split-mb (did you mean --split_mb?)"),
    ("pipelines.wikipedia", WIKI + ["--max-passage-words", "9"], "did you mean --max_passage_words?"),
    ("pipelines.wikipedia", WIKI + ["--split_mb", "-1"], "--split_mb must be >= 0"),
    ("pipelines.wikipedia", WIKI + ["--split_mb", "lots"], "argument --split_mb: invalid float value: 'lots'"),
    ("pipelines.wikipedia", WIKI + ["--max_passage_words", "0"], "--max_passage_words must be at least 1"),
    ("pipelines.wikipedia", WIKI + ["--max_heading_level", "7"], "--max_heading_level must be 1 to 6, not 7"),
    ("pipelines.wikipedia", WIKI + ["--top_n", "2"], "unknown flag --top_n"),
    ("pipelines.wikipedia", WIKI + ["--index", "{missing}/x-index.txt.bz2"], "--index '{missing}/x-index.txt.bz2' matches no file"),
    ("pipelines.wikipedia", ["--input", "{missing}/enwiki-*.bz2", "--output", "{out}"], "matches no file"),
    # pipelines.ccpairs (the corpus job), pipelines.report, pipelines.schedule
    ("pipelines.ccpairs", CORPUS + ["--frobnicate"], "unknown flag --frobnicate"),
    ("pipelines.ccpairs", CORPUS + ["--near-dup-threshold", "0.9"],
     "unknown flag --near-dup-threshold (did you mean --near_dup_threshold?)"),
    ("pipelines.ccpairs", CORPUS + ["--near_dup_threshold", "1.5"], "--near_dup_threshold must be between 0 and 1"),
    ("pipelines.ccpairs", CORPUS + ["--minhash_perms", "8"], "--minhash_perms must be 16 to 1024, not 8"),
    ("pipelines.ccpairs", CORPUS + ["--ngram_words", "0"], "--ngram_words must be at least 1"),
    ("pipelines.ccpairs", CORPUS + ["--pool_size", "-1"], "--pool_size must be >= 0"),
    ("pipelines.ccpairs", CORPUS + ["--decontaminate", "{empty}"], "holds no queries.jsonl, corpus.jsonl"),
    ("pipelines.ccpairs", CORPUS + ["--decontaminate", "{missing}"], "--decontaminate {missing}: no such folder"),
    ("pipelines.ccpairs", CORPUS + ["--input", "{versions}/reddit/v1"], "--input {versions}/reddit/v1 is given twice"),
    ("pipelines.ccpairs", CORPUS + ["--version", "../x"], "--version: bad version '../x'"),
    ("pipelines.ccpairs", CORPUS[:-1] + ["LATEST"], "--version: bad version 'LATEST': LATEST is reserved"),
    ("pipelines.ccpairs", CORPUS[:-1] + [".c1"], "--version: bad version '.c1': a version name may not start"),
    ("pipelines.ccpairs", CORPUS[:-1] + ["c1\r"], "may not hold control characters"),
    ("pipelines.ccpairs", ["--input", "{versions}/reddit/v1", "--output", "{links}", "--version", "c1", "--overwrite"],
     "{links}/ccpairs/c1 is a symbolic link"),
    ("pipelines.ccpairs", CORPUS + ["--decontaminate", "{bad_beir}"], "queries.jsonl:2: a JSON list, not an object"),
    ("pipelines.ccpairs", CORPUS + ["--decontaminate", "{csv_qrels}"], "test.tsv:1: 'q0,d0,1' is neither BEIR qrels"),
    ("pipelines.ccpairs", ["--input", "{old_schema}", "--output", "{out}"],
     "--input {old_schema} has schema_version '1.0.0', and this code writes 2.0.0"),
    ("pipelines.ccpairs", ["--input", "{empty}", "--output", "{out}"], "no complete version dir"),
    ("pipelines.ccpairs", ["--input", "{missing}", "--output", "{out}"], "does not exist"),
    ("pipelines.ccpairs", ["--input", "{missing}/LATEST", "--output", "{out}"], "no scheduled run has completed"),
    ("pipelines.ccpairs", ["--input", "{versions}", "--output", "{out}"], "holds versions of several datasets"),
    ("pipelines.ccpairs", ["--input", "{versions}/reddit/v1", "--output", "{file}"], "is a file, not a folder"),
    ("pipelines.ccpairs", CORPUS + ["--dry_run=True"], "--dry_run works with --runner=DataflowRunner only"),
    ("pipelines.ccpairs", ["--output", "{out}"], "at least one --input is required"),
    ("pipelines.report", ["{missing}"], "{missing}: no such folder"),
    ("pipelines.report", ["{empty}"], "has no manifest.json"),
    ("pipelines.report", ["{versions}/reddit/v1", "--output", "{file}"], "argument --output: {file} is an existing file"),
    ("pipelines.report", ["{versions}/reddit/v1", "--colour"], "unknown flag --colour"),
    ("pipelines.schedule", ["{missing}.yaml"], "cannot read {missing}.yaml"),
    ("pipelines.schedule", ["{file}"], "is not a job spec"),
    ("pipelines.schedule", ["{bad_json}"], "unknown key 'hidden_size'"),
    ("pipelines.schedule", ["{file}", "--date", "22-11-2026"], "argument --date: expected a date YYYY-MM-DD"),
    ("pipelines.schedule", ["{file}", "--verison", "x"], "unknown flag --verison (did you mean --version?)"),
    ("pipelines.schedule", ["{file}", "--version", "LATEST"], "argument --version: bad version 'LATEST'"),
    ("pipelines.schedule", ["{file}", "--version", "2026-11-22\n"], "may not hold control characters"),
]


def run_command(module_name, argv):
    """(exit code, stderr) of `module.main(argv)` (or `run(argv)`), in-process.

    A SystemExit carrying a message counts as exit code 1 with that message on stderr, as the
    interpreter would print it.
    """
    module = importlib.import_module(module_name)
    entry = getattr(module, "main", None) or getattr(module, "run")
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr):
        try:
            entry(list(argv))
        except SystemExit as exc:
            code = exc.code
        else:
            code = 0
    if isinstance(code, str):
        stderr.write(code + "\n")
        code = 1
    return code, stderr.getvalue()


@pytest.fixture
def workspace(tmp_path):
    """The paths named by PLACEHOLDERS, all under tmp_path."""
    from model.pairs_io import pairs_from_texts, write_pair_version
    from tests.model.conftest import TINY_BERT, make_texts

    write_pair_version(tmp_path / "pairs" / "alpha" / "v1", pairs_from_texts("alpha", make_texts(12)), num_shards=2)
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "config.json").write_text("{}")
    (tmp_path / "bert.json").write_text(json.dumps(TINY_BERT))
    (tmp_path / "bad.json").write_text("{'hidden_size': 32,}")
    (tmp_path / "notes.txt").write_text("a regular file\n")
    (tmp_path / "empty").mkdir()
    (tmp_path / "beir" / "qrels").mkdir(parents=True)
    for name in ("corpus.jsonl", "queries.jsonl", "qrels/test.tsv"):
        (tmp_path / "beir" / name).write_text("")
    for source in ("reddit", "stackexchange"):
        write_pair_version(tmp_path / "versions" / source / "v1", pairs_from_texts(source, make_texts(2)))
    for source, version, target in (("reddit", "v1", "reddit"), ("ccpairs", "c1", "stackexchange")):
        (tmp_path / "links" / source).mkdir(parents=True)
        (tmp_path / "links" / source / version).symlink_to(tmp_path / "versions" / target / "v1")
    old = write_pair_version(tmp_path / "old" / "reddit" / "v1", pairs_from_texts("reddit", make_texts(2)))
    manifest = json.loads((pathlib.Path(old) / "manifest.json").read_text())
    (pathlib.Path(old) / "manifest.json").write_text(json.dumps(dict(manifest, schema_version="1.0.0")))
    for name, queries, qrels in (("bad_beir", '{"_id": "q0", "text": "a question"}\n[1, 2]\n', "query-id\tcorpus-id\tscore\n"),
                                 ("csv_qrels", '{"_id": "q0", "text": "a question"}\n', "q0,d0,1\n")):
        (tmp_path / name / "qrels").mkdir(parents=True)
        (tmp_path / name / "queries.jsonl").write_text(queries)
        (tmp_path / name / "corpus.jsonl").write_text('{"_id": "d0", "text": "a passage"}\n')
        (tmp_path / name / "qrels" / "test.tsv").write_text(qrels)
    paths = {"versions": tmp_path / "versions", "tmp": tmp_path, "out": tmp_path / "out", "pairs": tmp_path / "pairs", "model": tmp_path / "model",
             "config": tmp_path / "bert.json", "bad_json": tmp_path / "bad.json", "file": tmp_path / "notes.txt",
             "missing": tmp_path / "missing", "empty": tmp_path / "empty", "beir": tmp_path / "beir",
             "links": tmp_path / "links", "old_schema": tmp_path / "old" / "reddit" / "v1",
             "bad_beir": tmp_path / "bad_beir", "csv_qrels": tmp_path / "csv_qrels"}
    assert set(paths) == set(PLACEHOLDERS)
    return {name: str(path) for name, path in paths.items()}


def tree(root):
    return sorted(os.path.join(d, n) for d, dirs, files in os.walk(root) for n in dirs + files)


def forbid_work(monkeypatch):
    """Loading or building a model, or starting a stage, fails the test."""
    import transformers

    def refuse(*args, **kwargs):
        raise AssertionError("work started before the command line was checked")

    monkeypatch.setattr(transformers.PreTrainedModel, "__init__", refuse)
    monkeypatch.setattr(subprocess, "run", refuse)


@pytest.mark.parametrize("module_name, argv, expected", CASES)
def test_bad_command_line_fails_in_one_line_before_any_work(module_name, argv, expected, workspace, monkeypatch):
    argv = [a.format(**workspace) for a in argv]
    expected = expected.format(**workspace)
    importlib.import_module(module_name)
    before = tree(workspace["tmp"])
    forbid_work(monkeypatch)

    code, stderr = run_command(module_name, argv)

    lines = stderr.splitlines()
    assert code != 0
    assert len(lines) == 1 and lines[0].strip(), stderr
    assert expected in lines[0]
    assert tree(workspace["tmp"]) == before  # nothing written: no output folder, no logs


def test_unknown_flag_message():
    from schemas.cli import unknown_flag_message

    known = ["--batch_size", "--top_n", "--temp_location", "--k"]
    assert unknown_flag_message("--top-n", known) == "unknown flag --top-n (did you mean --top_n?)"
    assert unknown_flag_message("--temp-location=gs://b", known) == \
        "unknown flag --temp-location (did you mean --temp_location?)"
    assert unknown_flag_message("--bach_size", known) == "unknown flag --bach_size (did you mean --batch_size?)"
    assert unknown_flag_message("--zzzzzz", known) == "unknown flag --zzzzzz"
