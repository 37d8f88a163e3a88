"""README.md of a corpus version: a Hugging Face dataset card, so the folder loads as it is.

The YAML header's `configs` name the pair shards: `default` is every pairs-*.parquet file (not
pool.parquet, whose schema differs), and one config per source lists that source's shards, so
`datasets.load_dataset(VERSION_DIR)` or `load_dataset(VERSION_DIR, "reddit")` reads them. The body
says what the version holds and how it was made (counts from the manifest).
"""

import json
from typing import Any, Dict, List, Mapping

import yaml

from schemas.versions import PAIR_SHARD_GLOB


def _size_category(n: int) -> str:
    bounds = [(1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"),
              (10_000_000, "1M<n<10M"), (100_000_000, "10M<n<100M"), (1_000_000_000, "100M<n<1B")]
    return next((label for bound, label in bounds if n < bound), "1B<n<10B")


def card_header(manifest: Mapping[str, Any], stats: Mapping[str, Any]) -> Dict[str, Any]:
    by_source: Dict[str, List[str]] = {}
    for shard in manifest["shards"]:
        if shard.get("source"):
            by_source.setdefault(shard["source"], []).append(shard["path"])
    languages = sorted({lang for counts in stats.get("lang", {}).values() for lang in counts
                        if len(lang) == 2 and lang.isalpha()})
    configs = [{"config_name": "default", "default": True,
                "data_files": [{"split": "train", "path": PAIR_SHARD_GLOB}]}]
    configs += [{"config_name": source, "data_files": [{"split": "train", "path": paths}]}
                for source, paths in sorted(by_source.items())]
    return {
        "pretty_name": f"CCPairs {manifest['version']}",
        "language": languages or ["en"],
        "task_categories": ["sentence-similarity", "text-retrieval"],
        "size_categories": [_size_category(manifest["counts"]["pairs"])],
        "configs": configs,
    }


def card(manifest: Mapping[str, Any], stats: Mapping[str, Any]) -> str:
    """The whole README.md: YAML header, then a short description with the version's counts."""
    header = yaml.safe_dump(card_header(manifest, stats), sort_keys=False, allow_unicode=True)
    counts = manifest["counts"]
    rows = "\n".join(
        f"| {source} | {c['pairs_in']:,} | {c['pairs_kept']:,} | "
        f"{', '.join(f'{r} {n:,}' for r, n in c['dropped'].items()) or '-'} |"
        for source, c in manifest.get("source_counts", {}).items())
    inputs = "\n".join(f"- `{i['path']}` ({i.get('dataset')} {i.get('version')}, code {i.get('code_version')})"
                       for i in manifest["inputs"])
    near = manifest.get("near_duplicates") or {}
    near_line = (f"MinHash LSH over word {near['shingle_words']}-gram shingles, {near['bands']} bands x "
                 f"{near['rows']} rows (threshold {near['threshold']})" if near else "off")
    evals = manifest.get("decontamination", {}).get("eval_sets", [])
    eval_line = ", ".join(f"`{e['path']}`" for e in evals) or "none"
    return f"""---
{header}---

# CCPairs {manifest['version']}

Weakly-supervised (query, passage) pairs in the style of E5's CCPairs (arXiv 2212.03533), merged from
the source versions below by `python -m pipelines.ccpairs`: exact and near duplicates removed across
sources, pairs overlapping evaluation sets removed. {counts['pairs']:,} pairs from {counts['records_read']:,} input pairs.

```python
import duckdb
duckdb.sql("SELECT source, count(*) FROM 'pairs-*.parquet' GROUP BY source")
# or: datasets.load_dataset("<this folder>")  /  pyarrow.dataset.dataset(sorted(glob.glob("pairs-*.parquet")))
```

Columns: pair_id, source, subsource, query, passage, query_id, passage_id, lang, score, created_at
(`schemas/pairs.py`). `pool.parquet` is the consistency filter's passage pool, `report.html` the
report, `manifest.json` every count and the lineage.

| source | pairs in | pairs kept | dropped |
|---|---:|---:|---|
{rows}

- Near duplicates: {near_line}
- Decontaminated against: {eval_line}
- Made from:
{inputs}

<!-- manifest options: {json.dumps(manifest.get('options', {}), sort_keys=True)} -->
"""
