"""README.md of a pair version: a Hugging Face dataset card, so the folder loads as it is.

Two kinds of version get one: a corpus version (`card`, written by pipelines/ccpairs.py's publish
step) and a consistency-filtered version (`filtered_card`, written by filtering/filter_pairs.py just
before its manifest, by the worker that writes the manifest). `write_card` picks the kind from the
manifest's dataset.

The YAML header carries `license` (each source's, an `other` note for terms that are no SPDX
license), `source_datasets`, `task_categories`, `size_categories` and `configs`: `default` is every
pairs-*.parquet file (not pool.parquet or ranks-*.parquet, whose schemas differ), and one config per
source lists that source's shards, so `datasets.load_dataset(VERSION_DIR)` or
`load_dataset(VERSION_DIR, "reddit")` reads them. The body describes the fields (from
schemas/pairs.py: PAIR_SCHEMA and COLUMN_DESCRIPTIONS), shows one example instance, says how the
version was made (lineage and settings, from the manifest), its limitations, biases and personal
information, and how to cite it.

Paths: the card names files relative to its folder and other versions by dataset/version, never by a
local or bucket path (manifests hold absolute paths; `_scrub` turns any into its base name).

Synthetic inputs: whoever generates raw inputs instead of downloading real dumps writes a file named
SYNTHETIC_MARKER ("SYNTHETIC_INPUTS") beside them (in the folder of the generated files, or the
folder above). `synthetic_sources` follows the lineage from the version's manifest down to the raw
input files (corpus -> source versions -> their inputs; filtered -> the versions of its input shards
-> ...) and names each source with a raw input whose folder (or its parent) holds that marker; the
card then opens with a plain "synthetic demo data" banner. Nothing is guessed from file names: a
version whose raw inputs carry no marker (or whose lineage cannot be read) gets no banner. Callers
that know better pass `synthetic=` (True: every source; a list: those sources).
"""

import datetime as _dt
import json
import os
import posixpath
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Set, Union

import pyarrow.fs as pafs
import yaml

from schemas import versions
from schemas.pairs import COLUMN_DESCRIPTIONS, PAIR_SCHEMA
from schemas.versions import PAIR_SHARD_GLOB

CARD_NAME = "README.md"
SYNTHETIC_MARKER = "SYNTHETIC_INPUTS"
FILTERED_DATASET = "consistency"  # filtering.filter_pairs.DATASET (not imported: that module needs torch)
STATS_NAME = "stats.json"  # filtering.corpus_stats.STATS_NAME
EXAMPLE_CHARS = 300  # an example's texts are cut to this many characters
MAX_MARKER_FOLDERS = 16  # raw-input folders looked at per version when looking for SYNTHETIC_MARKER
MAX_LINEAGE_DEPTH = 4

# What each source's text is licensed under: Hugging Face license ids (https://hf.co/docs/hub/repositories-licenses),
# "other" where the terms are no such license, and the note the card prints.
SOURCE_TERMS: Dict[str, Dict[str, Any]] = {
    "reddit": {
        "licenses": ["other"],
        "source_dataset": "extended|other-reddit-pushshift-dumps",
        "name": "Reddit comments and submissions (Pushshift-format dumps)",
        "terms": "Reddit's User Agreement and Data API Terms (https://redditinc.com/policies/user-agreement): "
                 "users own their posts and license them to Reddit; no open license covers them",
    },
    "stackexchange": {
        "licenses": ["cc-by-sa-4.0", "cc-by-sa-3.0"],
        "source_dataset": "extended|other-stack-exchange-data-dump",
        "name": "Stack Exchange data dump",
        "terms": "CC BY-SA (4.0 for posts since 2018-05-02, 3.0 before, 2.5 before 2011-04-08), "
                 "attribution to the post and its author required (https://stackoverflow.com/help/licensing)",
    },
    "wikipedia": {
        "licenses": ["cc-by-sa-3.0", "gfdl"],
        "source_dataset": "extended|wikipedia",
        "name": "Wikipedia (Wikimedia dumps)",
        "terms": "CC BY-SA (3.0; 4.0 for edits since 2023-06-29) and the GNU FDL "
                 "(https://dumps.wikimedia.org/legal.html)",
    },
    "semanticscholar": {
        "licenses": ["odc-by"],
        "source_dataset": "extended|other-semantic-scholar-s2ag",
        "name": "Semantic Scholar Academic Graph (S2AG)",
        "terms": "ODC-BY 1.0 (https://www.semanticscholar.org/product/api/license); "
                 "check the release's own license notes for its abstracts",
    },
    "commoncrawl": {
        "licenses": ["other"],
        "source_dataset": "extended|other-common-crawl",
        "name": "Common Crawl",
        "terms": "Common Crawl's Terms of Use (https://commoncrawl.org/terms-of-use); "
                 "each page stays its publisher's, under its own terms",
    },
}

E5_BIBTEX = """@article{wang2022text,
  title={Text Embeddings by Weakly-Supervised Contrastive Pre-training},
  author={Wang, Liang and Yang, Nan and Huang, Xiaolong and Jiao, Binxing and Yang, Linjun and Jiang, Daxin and Majumder, Rangan and Wei, Furu},
  journal={arXiv preprint arXiv:2212.03533},
  year={2022}
}"""

SECTIONS = ("Dataset structure", "Fields", "Example instance", "Configs and files", "How it was made",
            "Lineage", "Settings", "Licenses", "Limitations and biases", "Personal information", "Citation")


# ---- small helpers ----

def _size_category(n: int) -> str:
    bounds = [(1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"),
              (10_000_000, "1M<n<10M"), (100_000_000, "10M<n<100M"), (1_000_000_000, "100M<n<1B")]
    return next((label for bound, label in bounds if n < bound), "1B<n<10B")


def _is_path(value: str) -> bool:
    return versions.is_uri(value) or os.path.isabs(value) or value.startswith("~")


def _scrub(value: Any) -> Any:
    """Any absolute path or URI inside `value` (dicts and lists too) turned into its base name."""
    if isinstance(value, str):
        return versions.base_name(value) if _is_path(value) else value
    if isinstance(value, Mapping):
        return {k: _scrub(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_scrub(v) for v in value]
    return value


def _parent(path: str) -> str:
    return posixpath.dirname(path.rstrip("/")) if versions.is_uri(path) else os.path.dirname(os.path.normpath(path))


def _exists(path: str) -> bool:
    try:
        fs, fs_path = versions.resolve(path)
        return fs.get_file_info(fs_path).type == pafs.FileType.File
    except (OSError, ValueError):
        return False


def _manifest_or_none(version_dir: str) -> Optional[Dict[str, Any]]:
    try:
        return versions.read_manifest(version_dir)
    except (OSError, ValueError, versions.VersionError):
        return None


def _stats_or_none(version_dir: str) -> Optional[Dict[str, Any]]:
    path = versions.join(version_dir, STATS_NAME)
    try:
        return json.loads(versions.read_bytes(path).decode("utf-8")) if _exists(path) else None
    except (OSError, ValueError):
        return None


def _yaml_block(value: Any) -> str:
    return yaml.safe_dump(value, sort_keys=False, allow_unicode=True, default_flow_style=False, width=100).rstrip()


# ---- lineage ----

def input_versions(manifest: Mapping[str, Any]) -> List[str]:
    """The version folders a version was made from: a corpus lists them, a filtered version lists
    their shards (whose folder is the version). Raw input files (of a source version) are not versions."""
    found: List[str] = []
    for entry in manifest.get("inputs", []):
        path = str(entry.get("path", ""))
        if not path:
            continue
        if "pairs_by_source" in entry or "dataset" in entry:
            folder = path
        elif versions.base_name(path).startswith("pairs-") and path.endswith(".parquet"):
            folder = _parent(path)
        else:
            continue
        if folder not in found:
            found.append(folder)
    return found


def _raw_inputs(manifest: Mapping[str, Any]) -> List[str]:
    """A source version's raw input files (dumps), as its manifest lists them."""
    return [str(e["path"]) for e in manifest.get("inputs", [])
            if e.get("path") and "pairs_by_source" not in e and "dataset" not in e
            and not versions.base_name(str(e["path"])).startswith("pairs-")]


def synthetic_sources(manifest: Mapping[str, Any], depth: int = 0) -> Set[str]:
    """Sources whose raw inputs were generated: see the module docstring (SYNTHETIC_MARKER)."""
    found: Set[str] = set()
    if depth > MAX_LINEAGE_DEPTH:
        return found
    folders: List[str] = []
    for path in _raw_inputs(manifest):
        for folder in (_parent(path), _parent(_parent(path))):
            if folder and folder not in folders:
                folders.append(folder)
    if any(_exists(versions.join(folder, SYNTHETIC_MARKER)) for folder in folders[:MAX_MARKER_FOLDERS]):
        found.add(str(manifest.get("dataset")))
    for folder in input_versions(manifest):
        upstream = _manifest_or_none(folder)
        if upstream is not None:
            found |= synthetic_sources(upstream, depth + 1)
    return found


def _resolve_synthetic(manifest: Mapping[str, Any], sources: Sequence[str],
                       synthetic: Union[None, bool, Iterable[str]]) -> List[str]:
    if synthetic is True:
        return list(sources)
    if synthetic is False:
        return []
    return sorted(synthetic_sources(manifest) if synthetic is None else set(synthetic))


# ---- the pieces of a card ----

def _sources(manifest: Mapping[str, Any]) -> List[str]:
    return sorted({str(s.get("source") or manifest["dataset"]) for s in manifest["shards"]})


def _configs(manifest: Mapping[str, Any]) -> List[Dict[str, Any]]:
    by_source: Dict[str, List[str]] = {}
    for shard in manifest["shards"]:
        by_source.setdefault(str(shard.get("source") or manifest["dataset"]), []).append(shard["path"])
    configs = [{"config_name": "default", "default": True,
                "data_files": [{"split": "train", "path": PAIR_SHARD_GLOB}]}]
    configs += [{"config_name": source, "data_files": [{"split": "train", "path": sorted(paths)}]}
                for source, paths in sorted(by_source.items()) if source != "default"]
    return configs


def _terms(source: str) -> Dict[str, Any]:
    return SOURCE_TERMS.get(source, {
        "licenses": ["other"], "source_dataset": f"extended|other-{source}", "name": source,
        "terms": f"not known to this card: check the terms of the data source {source!r}"})


def _license_fields(sources: Sequence[str]) -> Dict[str, Any]:
    licenses = sorted({lic for s in sources for lic in _terms(s)["licenses"]})
    fields: Dict[str, Any] = {"license": licenses or ["other"]}
    if "other" in fields["license"]:
        others = [s for s in sources if "other" in _terms(s)["licenses"]]
        fields["license_name"] = "ccpairs-source-terms"
        fields["license_details"] = ("Each pair keeps its source's terms (column `source`). `other`: "
                                     + "; ".join(f"{s}: {_terms(s)['terms']}" for s in others) + ".")
    return fields


def _languages(stats: Optional[Mapping[str, Any]]) -> List[str]:
    langs = {lang for counts in (stats or {}).get("lang", {}).values() for lang in counts}
    return sorted(lang for lang in langs if len(lang) == 2 and lang.isalpha()) or ["en"]


def card_header(manifest: Mapping[str, Any], stats: Optional[Mapping[str, Any]], *, pretty_name: str,
                synthetic: Sequence[str] = ()) -> Dict[str, Any]:
    sources = _sources(manifest)
    header: Dict[str, Any] = {"pretty_name": pretty_name, "language": _languages(stats)}
    header.update(_license_fields(sources))
    header.update({
        "annotations_creators": ["no-annotation"],
        "language_creators": ["machine-generated"] if synthetic else ["found"],
        "source_datasets": [_terms(s)["source_dataset"] for s in sources],
        "task_categories": ["sentence-similarity", "text-retrieval", "feature-extraction"],
        "size_categories": [_size_category(manifest["counts"]["pairs"])],
        "tags": ["ccpairs", "e5", "weakly-supervised", "embeddings"] + (["synthetic"] if synthetic else []),
        "configs": _configs(manifest),
    })
    return header


def _fields_table() -> str:
    rows = [f"| `{f.name}` | {f.type}{'' if not f.nullable else ', nullable'} | {COLUMN_DESCRIPTIONS[f.name]} |"
            for f in PAIR_SCHEMA]
    return "| field | type | description |\n|---|---|---|\n" + "\n".join(rows)


def _example_value(value: Any) -> Any:
    if isinstance(value, _dt.datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, str) and len(value) > EXAMPLE_CHARS:
        return value[:EXAMPLE_CHARS] + "…"
    return value


def example_pair(version_dir: Optional[str], manifest: Mapping[str, Any]) -> Optional[Dict[str, Any]]:
    """The first pair of the first non-empty shard (shards in name order): the same on every rerun."""
    if version_dir is None:
        return None
    for shard in sorted(manifest["shards"], key=lambda s: s["path"]):
        if not shard.get("rows"):
            continue
        try:
            parquet = versions.open_parquet(versions.join(version_dir, shard["path"]))
            rows = parquet.read_row_group(0).slice(0, 1).to_pylist()
        except (OSError, ValueError):
            continue
        if rows:
            return {name: _example_value(rows[0].get(name)) for name in PAIR_SCHEMA.names}
    return None


def _example_section(example: Optional[Mapping[str, Any]]) -> str:
    if example is None:
        return "This version holds no pairs."
    return (f"The first pair of the first shard (texts cut to {EXAMPLE_CHARS} characters here):\n\n```json\n"
            + json.dumps(example, indent=1, ensure_ascii=False) + "\n```")


def _banner(synthetic: Sequence[str]) -> str:
    if not synthetic:
        return ""
    return (f"> **Synthetic demo data.** The inputs of {', '.join(synthetic)} were generated by code (the "
            "project's demo inputs), not taken from the real dumps: the text is made up. Use this version to "
            "try the pipeline, not to train or evaluate a model, and do not read its counts as facts about "
            "the real sources.\n\n")


def _licenses_section(sources: Sequence[str]) -> str:
    rows = "\n".join(f"| {s} | {_terms(s)['name']} | {', '.join(_terms(s)['licenses'])} | {_terms(s)['terms']} |"
                     for s in sources)
    return ("Each pair keeps the terms of the source it came from (column `source`); the version as a whole "
            "is under all of them. Attribution: `subsource`, `query_id` and `passage_id` name the original "
            "records.\n\n| source | data | license | terms |\n|---|---|---|---|\n" + rows)


def _limitations(lineage: Sequence[Mapping[str, Any]], filtered: bool) -> str:
    reddit_options = next((e.get("options") or {} for e in lineage if e.get("dataset") == "reddit"), None)
    english = sorted({e.get("dataset") for e in lineage if (e.get("options") or {}).get("english_only")})
    lines = [
        "- **Weak supervision.** A pair is a structural link (a post and its top reply, a question and its "
        "answer, a title and its passage), not a human relevance judgement: some passages do not answer "
        "their query.",
        "- **Source mix.** Each source brings its own register and topics, in the proportions of the table "
        "above, not those of any target domain. Score-based choices (top reply, accepted or best answer) "
        "favour popular content.",
        "- **Community biases.** Forum and web text over-represents some groups, regions and views, and "
        "holds stereotypes and offensive language; no toxicity filter was applied.",
    ]
    if english:
        lines.append(f"- **Language.** Only text detected as English was kept from {', '.join(english)}; "
                     "the detector errs on short and mixed-language text (`lang`).")
    if reddit_options is not None:
        lines.append("- **NSFW.** Posts marked over 18 were "
                     + ("dropped." if reddit_options.get("drop_nsfw") else "kept (`--drop_nsfw` was off)."))
    lines.append("- **Duplicates and leaks.** Near duplicates are removed above a Jaccard threshold only, and "
                 "evaluation data only for the sets named under Settings; other benchmarks may overlap.")
    if filtered:
        lines.append("- **Model-based filter.** The consistency filter keeps the pairs that the model trained on "
                     "the noisy pairs already ranks high, so it also drops correct pairs the model finds hard, "
                     "and carries that model's preferences into the kept set.")
    return "\n".join(lines)


def _personal_information() -> str:
    return ("The pairs have no author column. Reddit usernames (`author`) are read only to drop bots and "
            "deleted posts and are not written; the Stack Exchange, Wikipedia, Semantic Scholar and Common Crawl "
            "readers do not read author fields at all. The texts are what people wrote and can name people, "
            "usernames (`u/...`), e-mail addresses or other personal details: nothing was scrubbed from them. "
            "`query_id` and `passage_id` point to the original records, which carry their authors: they are "
            "kept for attribution and so that pairs can be removed when their authors delete them or ask for "
            "removal; drop those pairs from your copies when that happens.")


def _citation(manifest: Mapping[str, Any]) -> str:
    """E5's BibTeX and this version's (no date in it: a rerun on the same inputs writes the same card)."""
    project = (f"@misc{{ccpairs_{manifest['dataset']}_{manifest['version']},\n"
               f"  title={{ccpairs: CCPairs (E5) pair corpus, {manifest['dataset']} version {manifest['version']}}},\n"
               f"  note={{Made by the ccpairs project, code version {manifest.get('code_version')}}}\n}}")
    return ("The method is E5's CCPairs construction; cite the paper, and this version:\n\n```bibtex\n"
            + E5_BIBTEX + "\n\n" + project + "\n```\n\nCite the sources too, as their terms ask (Licenses).")


def _number(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) else "-"


def _lineage_rows(lineage: Sequence[Mapping[str, Any]]) -> str:
    rows = []
    for entry in lineage:
        counts = entry.get("counts") or {}
        rows.append(f"| {entry.get('dataset')}/{entry.get('version')} | {entry.get('code_version') or '-'} | "
                    f"{entry.get('created_at') or '-'} | {_number(counts.get('records_read'))} | "
                    f"{_number(counts.get('pairs'))} |")
    deeper = [f"- {e.get('dataset')}/{e.get('version')} was made from {', '.join(e['made_from'])}"
              for e in lineage if e.get("made_from")]
    return ("| input version | code version | created | records read | pairs |\n|---|---|---|---:|---:|\n"
            + "\n".join(rows) + ("\n\n" + "\n".join(deeper) if deeper else ""))


def _lineage_settings(lineage: Sequence[Mapping[str, Any]]) -> str:
    blocks = [f"{e.get('dataset')}/{e.get('version')}:\n\n```yaml\n{_yaml_block(_scrub(e.get('options') or {}))}\n```"
              for e in lineage if e.get("options")]
    if not blocks:
        return ""
    return "<details><summary>Settings of the input versions</summary>\n\n" + "\n\n".join(blocks) + "\n\n</details>"


def _render(header: Dict[str, Any], title: str, banner: str, summary: str, loading_note: str,
            example: Optional[Mapping[str, Any]], files: str, made: str, lineage: str, settings: str,
            sources: Sequence[str], lineage_entries: Sequence[Mapping[str, Any]], filtered: bool,
            manifest: Mapping[str, Any]) -> str:
    return f"""---
{_yaml_block(header)}
---

# {title}

{banner}{summary}

```python
import datasets
pairs = datasets.load_dataset("path/to/this/folder", split="train")  # or a source's config: (folder, "reddit")
# or: duckdb.sql("SELECT source, count(*) FROM 'pairs-*.parquet' GROUP BY source")
```

{loading_note}

## Dataset structure

### Fields

{_fields_table()}

### Example instance

{_example_section(example)}

### Configs and files

{files}

## How it was made

{made}

### Lineage

{lineage}

### Settings

{settings}

## Licenses

{_licenses_section(sources)}

## Limitations and biases

{_limitations(lineage_entries, filtered)}

## Personal information

{_personal_information()}

## Citation

{_citation(manifest)}
"""


# ---- the two kinds of card ----

def card(manifest: Mapping[str, Any], stats: Optional[Mapping[str, Any]], version_dir: Optional[str] = None,
         synthetic: Union[None, bool, Iterable[str]] = None) -> str:
    """The README.md of a corpus version (pipelines/ccpairs.py). version_dir, where the shards are
    (the staging folder at publish time), gives the example instance."""
    sources = _sources(manifest)
    made_up = _resolve_synthetic(manifest, sources, synthetic)
    counts = manifest["counts"]
    lineage = list(manifest.get("inputs", []))
    rows = "\n".join(
        f"| {source} | {c['pairs_in']:,} | {c['pairs_kept']:,} | "
        f"{', '.join(f'{r} {n:,}' for r, n in c['dropped'].items()) or '-'} |"
        for source, c in manifest.get("source_counts", {}).items())
    near = manifest.get("near_duplicates") or {}
    near_line = (f"MinHash LSH over word {near['shingle_words']}-gram shingles, {near['bands']} bands x "
                 f"{near['rows']} rows (threshold {near['threshold']})" if near else "off")
    evals = manifest.get("decontamination", {}).get("eval_sets", [])
    eval_line = ", ".join(f"`{versions.base_name(e['path'])}` ({e.get('queries', '?')} queries, "
                          f"{e.get('judged_passages', '?')} judged passages, sha256 {str(e.get('sha256', ''))[:12]}…)"
                          for e in evals) or "none"
    header = card_header(manifest, stats, pretty_name=f"CCPairs {manifest['version']}", synthetic=made_up)
    summary = (f"Weakly-supervised (query, passage) pairs in the style of E5's CCPairs (arXiv 2212.03533), merged "
               f"from {len(lineage)} source version(s) by `python -m pipelines.ccpairs`: exact and near duplicates "
               f"removed across sources, pairs overlapping evaluation sets removed. {counts['pairs']:,} pairs from "
               f"{counts['records_read']:,} input pairs, sources: {', '.join(sources)}.")
    files = ("- `pairs-*.parquet`: the pairs, one source per shard (the configs above: `default` is every shard, "
             "one config per source)\n"
             "- `pool.parquet`: the consistency filter's passage pool (another schema: not a config)\n"
             "- `stats.json`, `report.html`, `report-*.png`: counts and the report\n"
             "- `manifest.json`: every count, the lineage and the options; written last (the version is "
             "complete when it exists)")
    made = ("Stages, in order: decontamination (pairs whose query or passage matches an evaluation query, or "
            "shares an n-gram with an evaluation query or judged passage), exact pair duplicates, repeated passages, "
            "near-duplicate passages (the better-ranked pair survives: higher source score, then smaller "
            "`pair_id`). Every input pair is kept or dropped with one reason.\n\n"
            "| source | pairs in | pairs kept | dropped |\n|---|---:|---:|---|\n" + rows)
    settings = (f"- Near duplicates: {near_line}\n- Decontaminated against: {eval_line}\n"
                f"- Code version: {manifest.get('code_version')}, schema {manifest.get('schema_version')} (when "
                f"it was made: `manifest.json`)\n\n```yaml\n{_yaml_block(_scrub(manifest.get('options', {})))}\n```"
                + ("\n\n" + _lineage_settings(lineage) if _lineage_settings(lineage) else ""))
    return _render(header, f"CCPairs {manifest['version']}", _banner(made_up), summary,
                   "`pool.parquet` has another schema, so read the pairs by the `pairs-*.parquet` glob or the "
                   "configs, not by listing the folder.",
                   example_pair(version_dir, manifest), files, made, _lineage_rows(lineage), settings, sources,
                   lineage, False, manifest)


def filtered_card(manifest: Mapping[str, Any], version_dir: str,
                  synthetic: Union[None, bool, Iterable[str]] = None) -> str:
    """The README.md of a consistency-filtered version (filtering/filter_pairs.py), its shards in version_dir."""
    sources = _sources(manifest)
    made_up = _resolve_synthetic(manifest, sources, synthetic)
    upstream = [(folder, _manifest_or_none(folder)) for folder in input_versions(manifest)]
    lineage = [{"dataset": m.get("dataset"), "version": m.get("version"), "code_version": m.get("code_version"),
                "created_at": m.get("created_at"), "counts": m.get("counts"), "options": m.get("options"),
                "made_from": [f"{e.get('dataset')}/{e.get('version')}" for e in m.get("inputs", []) if "dataset" in e]}
               if m else {"dataset": "unreadable", "version": versions.base_name(folder)} for folder, m in upstream]
    stats: Dict[str, Any] = {"lang": {}}
    for folder, m in upstream:
        for source, counts in ((_stats_or_none(folder) or {}).get("lang") or {}).items():
            stats["lang"].setdefault(source, {}).update(counts)
    example = example_pair(version_dir, manifest)
    if not stats["lang"] and example and example.get("lang"):
        stats["lang"] = {"example": {example["lang"]: 1}}
    counts = manifest["counts"]
    options = manifest.get("options", {})
    header = card_header(manifest, stats, pretty_name=f"CCPairs {manifest['version']} (consistency-filtered)",
                         synthetic=made_up)
    pairs_in, kept, rates = manifest.get("pairs_in", {}), manifest.get("pairs_kept", {}), manifest.get("keep_rate", {})
    rows = "\n".join(f"| {s} | {pairs_in.get(s, 0):,} | {kept.get(s, 0):,} | {rates.get(s, 0):.1%} |"
                     for s in sorted(pairs_in))
    names = ", ".join(f"{e['dataset']}/{e['version']}" for e in lineage) or "its inputs"
    summary = (f"The pairs of {names} that "
               f"pass E5's consistency filter (arXiv 2212.03533), made by `python -m filtering.filter_pairs`: "
               f"{counts['pairs']:,} of {counts['records_read']:,} pairs kept, sources: {', '.join(sources)}.")
    files = ("- `pairs-*.parquet`: the kept pairs, one source per shard, shard J from input shard J (the configs "
             "above: `default` is every shard, one config per source)\n"
             "- `ranks-*.parquet`: every input pair's rank, score and k-th pool score (another schema: not a config)\n"
             "- `pool.parquet`, `pool-embeddings.npy`, `pool.json`: the random pool and its vectors\n"
             "- `filter-options.json`: what defines the output; `manifest.json`: counts, keep rates, inputs and "
             "settings, written last (the version is complete when it exists)")
    made = (f"A model trained on the input pairs embeds a random pool of passages (the {options.get('pool_size')} "
            "smallest hashes of the distinct normalised passages) and each pair; a pair is kept iff its passage "
            f"ranks in the top k={options.get('k')} among the pool plus itself (its own passage and exact "
            "duplicates of it left out of the pool, ties in the pair's favour). Dropped pairs are counted as "
            "`inconsistent`.\n\n| source | pairs in | pairs kept | keep rate |\n|---|---:|---:|---:|\n" + rows)
    shown = {key: options[key] for key in ("k", "pool_size", "pool_actual", "backend", "precision", "model_dtype",
                                           "model_fingerprint") if key in options}
    if options.get("model"):
        shown["model"] = versions.base_name(str(options["model"]))
    settings = (f"- Code version: {manifest.get('code_version')}, schema {manifest.get('schema_version')} (when "
                f"it was made: `manifest.json`)\n\n```yaml\n{_yaml_block(_scrub(shown))}\n```"
                + ("\n\n" + _lineage_settings(lineage) if _lineage_settings(lineage) else ""))
    return _render(header, f"CCPairs {manifest['version']} (consistency-filtered)", _banner(made_up), summary,
                   "`ranks-*.parquet` and `pool.parquet` have other schemas, so read the pairs by the "
                   "`pairs-*.parquet` glob or the configs, not by listing the folder.",
                   example, files, made, _lineage_rows(lineage), settings, sources, lineage, True, manifest)


def write_card(version_dir: "str | os.PathLike", manifest: Mapping[str, Any],
               stats: Optional[Mapping[str, Any]] = None) -> str:
    """Write README.md into version_dir (before its manifest.json, which stays the last file written)."""
    folder = os.fspath(version_dir)
    text = (filtered_card(manifest, folder) if manifest.get("dataset") == FILTERED_DATASET
            else card(manifest, stats, folder))
    path = versions.join(folder, CARD_NAME)
    versions.write_bytes(path, text.encode("utf-8"))
    return path

