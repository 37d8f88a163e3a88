"""Language-ID benchmark: accuracy and µs per text of langdetect, lingua and our cascade.

Why: sources/text/langid.py chooses its method from these numbers; rerun after changing it.

    .venv/bin/python benchmarks/langid.py            # prints the table, writes results/langid.md

Sets: benchmarks/data/langid_authored.tsv (hand-written, 35 languages, hard cases) and, when
../shared/data is present, the hand labels in benchmarks/data/langid_reddit_rc2019-08.tsv applied
to the real comments they name, and those in benchmarks/data/langid_reddit_rs2019-10_titles.tsv
to short r/AskWomen titles (the texts are read from shared/data, never stored here).
Each method runs in its own subprocess so that its load time and memory are its own.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import resource
import statistics
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = ROOT / "benchmarks" / "data"
AUTHORED = DATA / "langid_authored.tsv"
REDDIT_LABELS = DATA / "langid_reddit_rc2019-08.tsv"
REDDIT_DUMP = ROOT.parent / "shared" / "data" / "reddit" / "RC_2019-08.first1007.zst"
TITLE_LABELS = DATA / "langid_reddit_rs2019-10_titles.tsv"
TITLE_DUMP = ROOT.parent / "shared" / "data" / "reddit" / "RS_2019-10.AskWomen.zst"
RESULTS = ROOT / "benchmarks" / "results" / "langid.md"

LATIN22 = "en es pt fr de it nl sv da nb pl tr id ro cs fi hu tl vi ca hr sk".split()
# what each method is: (label, description)
METHODS = {
    "langdetect": "langdetect 1.0.9, all 55 languages, seed 0, raw text",
    "lingua-all-low": "lingua, all 75 languages, low-accuracy mode, raw text",
    "lingua-22-low": "lingua, 22 Latin-script languages, low-accuracy mode, raw text",
    "lingua-22-high": "lingua, 22 Latin-script languages, high-accuracy mode, raw text",
    "cascade": "sources.text.langid default: clean -> script -> lexicon -> lingua-22-low (+English prior)",
    "cascade-high": "cascade with lingua high-accuracy mode at stage 4",
    "cascade-langdetect": "cascade with seeded langdetect at stage 4 (the no-lingua fallback)",
    "cascade-nolexicon": "cascade without the lexicon stage (every Latin text to lingua-22-low)",
    "cascade-noplain": "cascade without stage 5 (short plain text is English): the cascade before issue 10",
}


def is_short(text: str) -> bool:
    """Short = at most 40 characters or at most 8 whitespace-separated words."""
    return len(text) <= 40 or len(text.split()) <= 8


def load_authored() -> list[dict]:
    items = []
    for line in AUTHORED.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        gold, tag, text = line.split("\t")
        text = text.replace("\\n", "\n")
        items.append({"set": "authored", "gold": "" if gold == "-" else gold, "tag": tag, "text": text})
    return items


def load_reddit(dump: pathlib.Path = REDDIT_DUMP, labels_path: pathlib.Path = REDDIT_LABELS,
                field: str = "body", set_name: str = "reddit") -> list[dict]:
    """Hand labels joined to the texts (a comment's body, a post's title) in shared/data; [] when
    the dump is absent."""
    if not dump.is_file():
        return []
    import zstandard

    labels = {}
    for line in labels_path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            cid, gold = line.split("\t")
            labels[cid] = "" if gold == "-" else gold
    with dump.open("rb") as fh:
        raw = zstandard.ZstdDecompressor(max_window_size=2**31).stream_reader(fh).read()
    items = []
    for line in raw.decode("utf-8").splitlines():
        rec = json.loads(line)
        if rec["id"] in labels:
            items.append({"set": set_name, "gold": labels.pop(rec["id"]), "tag": set_name, "text": rec[field]})
    if labels:
        raise SystemExit(f"{len(labels)} labelled ids not found in {dump}")
    return items


def load_titles(dump: pathlib.Path = TITLE_DUMP) -> list[dict]:
    """Short r/AskWomen titles (issue 10: short plain English was dropped), labels joined to shared/data."""
    return load_reddit(dump, TITLE_LABELS, "title", "titles")


def make_detector(method: str):
    """text -> (language code or "" for undetermined, keep-as-English decision)."""
    if method == "langdetect":
        from langdetect import DetectorFactory, detect
        from langdetect.lang_detect_exception import LangDetectException

        DetectorFactory.seed = 0

        def run(text):
            try:
                code = detect(text)
            except LangDetectException:
                return "", False
            code = {"no": "nb", "zh-cn": "zh", "zh-tw": "zh"}.get(code, code)
            return code, code == "en"

        return run
    if method.startswith("lingua-"):
        from lingua import IsoCode639_1, Language, LanguageDetectorBuilder

        _, langs, mode = method.split("-")
        if langs == "all":
            builder = LanguageDetectorBuilder.from_all_languages()
        else:
            builder = LanguageDetectorBuilder.from_languages(
                *[Language.from_iso_code_639_1(getattr(IsoCode639_1, c.upper())) for c in LATIN22]
            )
        if mode == "low":
            builder = builder.with_low_accuracy_mode()
        det = builder.build()

        def run(text):
            lang = det.detect_language_of(text)
            code = lang.iso_code_639_1.name.lower() if lang else ""
            return code, code == "en"

        return run
    from sources.text import langid

    cfg = {
        "cascade": langid.LangIdConfig(),
        "cascade-high": langid.LangIdConfig(lingua_high_accuracy=True),
        "cascade-langdetect": langid.LangIdConfig(backend="langdetect"),
        "cascade-nolexicon": langid.LangIdConfig(use_lexicon=False),
        "cascade-noplain": langid.LangIdConfig(plain_text_stage=False),
    }[method]
    def run(text):
        code, conf = langid.detect_language(text, cfg)
        return code, code == "en" and conf >= langid.DEFAULT_MIN_CONFIDENCE  # is_english's rule

    return run


def run_method(method: str, texts: list[str]) -> dict:
    """Predictions, per-text times (first call, which loads models, timed apart), memory."""
    t0 = time.perf_counter()
    det = make_detector(method)
    for text in WARM_UP:  # loads every model a method can use, so the timings below exclude it
        det(text)
    load_s = time.perf_counter() - t0
    preds, keeps, times = [], [], []
    for text in texts:
        s = time.perf_counter_ns()
        code, keep = det(text)
        times.append((time.perf_counter_ns() - s) / 1000)
        preds.append(code)
        keeps.append(keep)
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"preds": preds, "keeps": keeps, "times_us": times, "load_s": load_s, "rss_mb": rss_mb}


WARM_UP = ("Das ist nicht gut", "Это не хорошо", "هذا ليس جيدا", "यह अच्छा नहीं है")


def score(items: list[dict], preds: list[str], keeps: list[bool]) -> dict:
    def acc(sel):
        pairs = [(it["gold"], p) for it, p in zip(items, preds) if sel(it)]
        return (sum(g == p for g, p in pairs) / len(pairs), len(pairs)) if pairs else (float("nan"), 0)

    tp = sum(1 for it, k in zip(items, keeps) if it["gold"] == "en" and k)
    fp = sum(1 for it, k in zip(items, keeps) if it["gold"] != "en" and k)
    fn = sum(1 for it, k in zip(items, keeps) if it["gold"] == "en" and not k)
    non_en = [(it, k) for it, k in zip(items, keeps) if it["gold"] not in ("en", "")]
    return {
        "acc_short": acc(lambda it: is_short(it["text"])),
        "acc_long": acc(lambda it: not is_short(it["text"])),
        "acc_all": acc(lambda it: True),
        "en_p": tp / (tp + fp) if tp + fp else float("nan"),
        "en_r": tp / (tp + fn) if tp + fn else float("nan"),
        # share of non-English texts (with a language) that would pass an English filter
        "non_en_kept": (sum(k for _, k in non_en) / len(non_en)) if non_en else float("nan"),
    }


def table(title: str, items: list[dict], results: dict[str, dict]) -> str:
    n_short = sum(is_short(it["text"]) for it in items)
    n_en = sum(it["gold"] == "en" for it in items)
    lines = [
        f"### {title}: {len(items)} texts ({n_short} short, {len(items) - n_short} longer; "
        f"{n_en} English, {sum(it['gold'] == '' for it in items)} undetermined)",
        "",
        "| method | acc short | acc longer | acc all | English P | English R | non-en kept as en "
        "| µs/text median | µs/text mean | load s | peak RSS MB |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for method, res in results.items():
        idx = [i for i, it in enumerate(res["items"]) if it["set"] in {x["set"] for x in items}]
        preds = [res["preds"][i] for i in idx]
        keeps = [res["keeps"][i] for i in idx]
        times = [res["times_us"][i] for i in idx]
        s = score(items, preds, keeps)
        lines.append(
            f"| {method} | {s['acc_short'][0]:.3f} | {s['acc_long'][0]:.3f} | {s['acc_all'][0]:.3f} "
            f"| {s['en_p']:.3f} | {s['en_r']:.3f} | {s['non_en_kept']:.3f} "
            f"| {statistics.median(times):.0f} | {statistics.fmean(times):.0f} "
            f"| {res['load_s']:.2f} | {res['rss_mb']:.0f} |"
        )
    return "\n".join(lines)


def stage_counts(items: list[dict]) -> str:
    from sources.text import langid

    counts: dict[str, int] = {}
    for it in items:
        stage = langid.explain(it["text"])[2]
        counts[stage] = counts.get(stage, 0) + 1
    return ", ".join(f"{k}: {v}" for k, v in sorted(counts.items(), key=lambda kv: -kv[1]))


def errors(items: list[dict], preds: list[str], keeps: list[bool], limit: int = 40) -> list[str]:
    out = []
    for it, p, k in zip(items, preds, keeps):
        if (it["gold"] == "en") != k:
            text = it["text"].replace("\n", " ")[:70].replace("|", "\\|")
            out.append(f"| {it['set']} | {it['gold'] or '-'} | {p or '-'} | {text} |")
    return out[:limit]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--method", help=argparse.SUPPRESS)  # child mode: one method, JSON out
    ap.add_argument("--methods", default=",".join(METHODS))
    ap.add_argument("--no_write", action="store_true", help="print only, leave results/langid.md")
    args = ap.parse_args()
    items = load_authored() + load_reddit() + load_titles()
    if args.method:
        json.dump(run_method(args.method, [it["text"] for it in items]), sys.stdout)
        return

    results = {}
    for method in args.methods.split(","):
        out = subprocess.run(
            [sys.executable, __file__, "--method", method], check=True, capture_output=True, text=True
        ).stdout
        results[method] = json.loads(out) | {"items": items}
        print(f"ran {method}", file=sys.stderr)

    authored = [it for it in items if it["set"] == "authored"]
    reddit = [it for it in items if it["set"] == "reddit"]
    titles = [it for it in items if it["set"] == "titles"]
    parts = [
        "# Language ID benchmark (benchmarks/langid.py)",
        "",
        "Generated by `python benchmarks/langid.py` on a 2-core CPU machine, Python "
        f"{sys.version.split()[0]}. Accuracy = exact ISO 639-1 match, undetermined (\"\") included; "
        "short = at most 40 characters or at most 8 words. English P/R = the keep decision "
        "(top language is `en`; for the cascade, `is_english` with its default min_confidence) against gold `en`; \"non-en kept as en\" = share of texts with "
        "another language that an English filter would keep. µs/text after the detector is "
        "loaded (load s = building it plus the first call, in a fresh process; RSS includes "
        "the Python interpreter and the data).",
        "",
        "Methods:",
        "",
        *[f"- `{m}`: {d}" for m, d in METHODS.items() if m in results],
        "",
        table("Authored set", authored, results),
    ]
    if reddit:
        parts += ["", table("Reddit RC_2019-08 (hand-labelled real comments)", reddit, results)]
        parts += ["", table("Reddit RS_2019-10 r/AskWomen short titles (hand-labelled)", titles, results)]
        parts += ["", table("All sets", items, results)]
    else:
        parts += ["", "_../shared/data is absent: the Reddit set was not scored._"]
    parts += [
        "",
        f"Cascade stage that decided (all texts): {stage_counts(items)}.",
        "",
        "Notes: the raw `lingua-22-*` baselines know only Latin-script languages, so their "
        "non-Latin texts count as errors (the cascade routes those by script first). "
        "Timings are wall-clock on a shared 2-core machine: compare methods within one run. "
        "Means include the rare slow texts (long ones sent to a model; lingua's high mode also "
        "loads n-gram tables lazily on first use, which inflates its means).",
    ]
    if "cascade" in results:
        idx = {id(it): i for i, it in enumerate(items)}
        res = results["cascade"]
        order = [idx[id(it)] for it in items]
        errs = errors(items, [res["preds"][i] for i in order], [res["keeps"][i] for i in order])
        parts += [
            "",
            "English-decision errors of `cascade` (gold, predicted, text):",
            "",
            "| set | gold | pred | text |",
            "|---|---|---|---|",
            *errs,
        ]
    report = "\n".join(parts) + "\n"
    print(report)
    if not args.no_write:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(report, encoding="utf-8")


if __name__ == "__main__":
    main()
