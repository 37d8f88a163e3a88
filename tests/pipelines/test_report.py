"""`python -m pipelines.report` on every kind of version, its figures' layout, and the page in headless Chromium.

The `versions` fixture builds a corpus version with the corpus job (two sources, planted duplicates,
leaks of the real DBPedia-entity subset, and source-job drops and rejects in one input), and a
consistency-filtered version over it (its rank shards written as the filter writes them).
"""

import hashlib
import os
import pathlib
import re
import shutil
import struct
import subprocess
import sys

import matplotlib
import matplotlib.image
import matplotlib.text
import pyarrow.parquet as pq
import pytest

from filtering import corpus_stats
from filtering.filter_pairs import RANK_SCHEMA
from pipelines import report
from schemas import versions
from schemas.rejects import REJECT_SCHEMA, make_reject
from sources.demo_inputs.corpus import planted_corpus
from tests.pipelines.test_ccpairs import eval_folder, eval_plants, run_job, write_sources

HOSTILE = '<script>alert("x")</script> & <b>bold</b>'


def _images(folder):
    page = (folder / "report.html").read_text()
    names = re.findall(r'<img src="([^"]+)"', page)
    assert names and all((folder / n).read_bytes().startswith(b"\x89PNG") for n in names)
    return page, names


def _png_size(data: bytes):
    return struct.unpack(">II", data[16:24])


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("report")
    evals = eval_folder(tmp)
    queries, judged = eval_plants(evals, 4)
    pairs, _ = planted_corpus(n_plain=40, n_exact=5, n_repeated=5, near_rates=(0.01, 0.05), near_per_rate=5,
                              eval_queries=queries, judged_passages=judged)
    inputs = write_sources(tmp / "sources", pairs)
    # the reddit input as a source job leaves it: some records dropped, some rejected with a snippet
    reddit = pathlib.Path(inputs[0])
    rejects = [make_reject(source="reddit", reason="invalid_json", input_file="RC_demo.zst", raw=HOSTILE + " {",
                           position=i, detail="Expecting value") for i in range(4)]
    rows = versions.write_rows(reddit / "rejects-00000-of-00001.parquet", rejects, REJECT_SCHEMA)
    manifest = versions.read_manifest(reddit)
    n = manifest["counts"]["pairs"]
    manifest["counts"].update(records_read=n + 9 + rows, records_used=n, records_dropped={"too_short": 9},
                              records_rejected={"invalid_json": rows})
    manifest["reject_shards"] = [{"path": "rejects-00000-of-00001.parquet", "rows": rows}]
    versions.write_manifest(reddit, manifest)
    corpus = run_job(inputs, tmp / "out", "c1", "--decontaminate", evals)
    return {"tmp": tmp, "corpus": corpus, "filtered": _filtered_version(tmp, corpus), "evals": evals}


def _filtered_version(tmp, corpus_dir):
    """What filtering/filter_pairs.py writes over `corpus_dir`: kept pairs, rank shards, the keep counts."""
    corpus = versions.read_manifest(corpus_dir)
    kept, ranks_names, pairs_in, pairs_kept = [], [], {}, {}
    out = tmp / "consistency" / "f1"
    ranks_tables = []
    for j, shard in enumerate(versions.pair_shards(corpus_dir)):
        table = pq.read_table(shard.path).to_pylist()
        keep = [hashlib.blake2b(r["pair_id"].encode(), digest_size=1).digest()[0] % 4 != 0 for r in table]
        kept += [r for r, k in zip(table, keep) if k]
        ranks_tables.append([{"pair_id": r["pair_id"], "source": r["source"], "rank": 1 if k else 3,
                              "pair_score": 0.5, "kth_pool_score": 0.6, "keep": k} for r, k in zip(table, keep)])
        ranks_names.append(versions.shard_name("ranks", j, len(corpus["shards"])))
        for r, k in zip(table, keep):
            pairs_in[r["source"]] = pairs_in.get(r["source"], 0) + 1
            pairs_kept[r["source"]] = pairs_kept.get(r["source"], 0) + k
    version = versions.write_pair_version(out, kept, dataset="consistency")
    for name, rows in zip(ranks_names, ranks_tables):
        versions.write_rows(out / name, rows, RANK_SCHEMA)
    manifest = versions.read_manifest(version)
    manifest.update(
        inputs=[{"path": s.path, "bytes": s.size, "source": s.source} for s in versions.pair_shards(corpus_dir)],
        records_dropped={"inconsistent": sum(pairs_in.values()) - len(kept)},
        keep_rate={s: round(pairs_kept[s] / pairs_in[s], 6) for s in sorted(pairs_in)},
        pairs_in=dict(sorted(pairs_in.items())), pairs_kept=dict(sorted(pairs_kept.items())),
        rank_shards=ranks_names, options={"k": 2})
    manifest["counts"].update(records_read=sum(pairs_in.values()),
                              records_dropped={"inconsistent": sum(pairs_in.values()) - len(kept)})
    versions.write_manifest(version, manifest)
    return version


# ---- what the page says ----

def test_corpus_report_has_the_funnel_eval_sets_examples_and_rejects(built):
    folder = pathlib.Path(built["corpus"])
    page, names = _images(folder)
    assert {"report-funnel.png", "report-pairs.png", "report-drops.png", "report-lengths.png",
            "report-languages.png", "report-dedup.png"} <= set(names)
    manifest = versions.read_manifest(folder)
    reddit_in = manifest["source_counts"]["reddit"]
    read = manifest["inputs"][0]["counts"]["records_read"]
    # funnel: records read -> used -> pairs -> after dedup + decontamination (no filter yet)
    assert (f"<td>reddit</td><td>{read:,}</td><td>{reddit_in['pairs_in']:,}</td><td>{reddit_in['pairs_in']:,}</td>"
            f"<td>{reddit_in['pairs_kept']:,}</td><td>—</td>") in page
    # the evaluation set, named with its sizes
    eval_set = manifest["decontamination"]["eval_sets"][0]
    assert f"<td>{os.path.basename(built['evals'])}</td><td>{eval_set['queries']:,}</td>" in page
    assert f"<td>{eval_set['judged_passages']:,}</td>" in page and "Did not run" not in page
    # the source job's reasons survive, in records; the subsources are in a table
    assert "<td>reddit</td><td>source job</td><td>too_short</td><td>records</td><td>9</td>" in page
    assert re.search(r"<td>reddit</td><td>reddit-sub\d</td><td>\d+</td>", page)
    # 5 examples per source and the rejects, escaped
    examples = page.split("<h2>Example pairs</h2>")[1].split("<h2>")[0]
    assert examples.count("<tr><td>reddit</td>") == 5 and examples.count("<tr><td>stackexchange</td>") == 5
    rejects = page.split("<h2>A sample of rejects</h2>")[1]
    assert "<td>invalid_json</td>" in rejects and "&lt;script&gt;" in rejects and "<script>" not in page
    assert "median (words)" in page and "whitespace words" in page


def test_filtered_report_says_pairs_and_keeps_the_earlier_stages(built, tmp_path):
    out = tmp_path / "filtered-report"
    assert report.main([built["filtered"], "--output", str(out)]) == 0
    page, names = _images(out)
    assert {"report-keep.png", "report-dedup.png", "report-funnel.png"} <= set(names)
    summary = re.search(r"<b>[\d,]+</b> pairs from [\d,]+ ([a-z ]+)\.", page)
    assert summary and summary.group(1) == "input pairs"
    manifest = versions.read_manifest(built["filtered"])
    dropped = manifest["pairs_in"]["reddit"] - manifest["pairs_kept"]["reddit"]
    assert f"<td>reddit</td><td>filter</td><td>inconsistent</td><td>pairs</td><td>{dropped}</td>" in page
    assert "<td>reddit</td><td>source job</td><td>too_short</td>" in page  # the corpus's inputs' reasons
    assert "<td>stackexchange</td><td>corpus job</td><td>near_duplicate</td>" in page
    assert f"<td>{manifest['pairs_in']['reddit']:,}</td><td>{manifest['pairs_kept']['reddit']:,}</td>" in page
    assert os.path.basename(built["evals"]) in page  # the decontamination of its corpus version
    rejects = page.split("<h2>A sample of rejects</h2>")[1]
    assert rejects.count("<td>filter</td><td>reddit</td><td>inconsistent</td>") == 5
    assert "below the top 2" in rejects
    assert not (pathlib.Path(built["filtered"]) / "report.html").exists()


def test_report_of_a_source_version_computes_its_stats_from_the_shards(tmp_path):
    pairs, _ = planted_corpus(n_plain=30)
    rows = pairs["reddit"]
    rows[0] = dict(rows[0], query=HOSTILE, passage="x" * 5000)
    version = versions.write_pair_version(tmp_path / "reddit" / "v1", rows, num_shards=2, dataset="reddit")
    assert report.main([version]) == 0
    page, names = _images(tmp_path / "reddit" / "v1")
    assert "report-dedup.png" not in names and "source version" in page
    assert "<td>reddit</td><td>30</td><td>30</td><td>30</td><td>—</td><td>—</td>" in page  # the funnel
    assert "Not applicable: decontamination runs in the corpus job" in page
    examples = page.split("<h2>Example pairs</h2>")[1].split("<h2>")[0]
    assert examples.count("<tr><td>reddit</td>") == report.EXAMPLES_PER_SOURCE
    # whichever examples the hash picks, they are the same on a rerun, and text is escaped and cut
    assert report.render(versions.read_manifest(version), report.load_stats(version), version)[0] == page
    assert "<script>" not in page and "x" * (report.PASSAGE_CHARS + 1) not in page


def test_hostile_text_is_escaped_and_cut():
    assert report.clip("a\x00b \n\t c" + "y" * 50, 10) == "a\ufffdb cyyyy…"
    page = report._table(["q"], [[report.clip(HOSTILE, 200)]])
    assert "<script>" not in page and "&lt;script&gt;" in page


def test_a_corpus_without_eval_sets_says_decontamination_did_not_run(built):
    manifest = versions.read_manifest(built["corpus"])
    manifest["decontamination"] = {"ngram_words": 13, "eval_sets": []}
    context = report.gather(manifest, report.load_stats(built["corpus"]))
    assert any("Did not run" in s for s in report._decontamination(context))


def test_report_of_an_empty_version(tmp_path):
    version = versions.write_pair_version(tmp_path / "reddit" / "v1", [], dataset="reddit")
    assert report.main([version]) == 0
    _images(tmp_path / "reddit" / "v1")


def test_token_lengths_with_the_trainers_tokenizer_never_import_torch(built, tmp_path):
    from model import train
    from model.encoder import default_model_path

    assert report.TRAIN_MAX_TOKENS == {"query": train.DEFAULT_MAX_LENGTHS["query_max_length"],
                                       "passage": train.DEFAULT_MAX_LENGTHS["passage_max_length"]}
    out = tmp_path / "tokens"
    script = ("import sys; from pipelines import report; "
              f"report.main([{built['corpus']!r}, '--output', {str(out)!r}, '--tokenizer', {str(default_model_path())!r}]);"
              " assert 'torch' not in sys.modules, 'torch imported'")
    subprocess.run([sys.executable, "-c", script], check=True, cwd=pathlib.Path(__file__).parents[2], timeout=300)
    page, _ = _images(out)
    assert "median (tokens)" in page and "passages over 128 tokens" in page
    # the planted passages are 40-120 words of long made-up words: far more tokens than words
    head, rows = report.length_table(report.token_lengths(built["corpus"], versions.read_manifest(built["corpus"]),
                                                          str(default_model_path())))
    words = report.length_table(report.word_lengths(report.load_stats(built["corpus"])))[1]
    assert float(rows[0][3].replace(",", "")) > 1.5 * float(words[0][3].replace(",", ""))


def test_quantiles_of_the_fine_bins():
    histogram = {}
    for n in range(1, 1001):
        key = str(corpus_stats.fine_bin(n))
        histogram[key] = histogram.get(key, 0) + 1
    assert abs(corpus_stats.quantile(histogram, 0.5) - 500) <= 500 / corpus_stats.FINE_STEPS
    assert abs(corpus_stats.quantile(histogram, 0.95) - 950) <= 950 / corpus_stats.FINE_STEPS
    assert corpus_stats.quantile({"3": 1, "5": 1, "7": 1}, 0.5) == 5
    assert corpus_stats.length_bin(5) == "4-7"  # the dataset card's bins are unchanged


# ---- layout: every figure has a fixed size, non-empty pixels, and text that never overlaps ----

def _drawn_texts(fig):
    """(text, window extent) of every non-empty text the figure draws (tick labels only inside the view)."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    tick_labels, texts = set(), []
    for ax in fig.axes:
        for axis, limits in ((ax.xaxis, ax.get_xlim()), (ax.yaxis, ax.get_ylim())):
            low, high = sorted(limits)
            for tick in axis.get_major_ticks() + axis.get_minor_ticks():
                for label in (tick.label1, tick.label2):
                    tick_labels.add(id(label))
                    if label.get_visible() and label.get_text() and low - 1e-9 <= tick.get_loc() <= high + 1e-9:
                        texts.append((label.get_text(), label.get_window_extent(renderer)))
    for text in fig.findobj(matplotlib.text.Text):
        if id(text) not in tick_labels and text.get_visible() and text.get_text().strip():
            texts.append((text.get_text(), text.get_window_extent(renderer)))
    return texts


def check_layout(name, fig):
    width, height = fig.get_size_inches() * fig.dpi
    texts = _drawn_texts(fig)
    assert texts, name
    for text, box in texts:
        assert box.x0 >= -1 and box.y0 >= -1 and box.x1 <= width + 1 and box.y1 <= height + 1, (name, text, box)
    for i, (a, box_a) in enumerate(texts):
        for b, box_b in texts[i + 1:]:
            overlap_x = min(box_a.x1, box_b.x1) - max(box_a.x0, box_b.x0)
            overlap_y = min(box_a.y1, box_b.y1) - max(box_a.y0, box_b.y0)
            assert overlap_x <= 1 or overlap_y <= 1, f"{name}: {a!r} overlaps {b!r}"
    return int(round(width)), int(round(height))


@pytest.mark.parametrize("kind", ["corpus", "filtered"])
def test_figures_have_fixed_sizes_pixels_and_no_overlapping_text(built, kind):
    version = built[kind]
    manifest = versions.read_manifest(version)
    context = report.gather(manifest, report.load_stats(version), version)
    # long subsource names, many of them: labels are cut, never drawn over a neighbour
    context["stats"] = dict(context["stats"], subsource={
        s: {f"a-very-long-subsource-name-{'x' * 40}-{i}": 10 + i for i in range(20)} for s in context["stats"]["pairs"]})
    for name, fig in report.figures(context).items():
        size = check_layout(name, fig)
        data = report.png(fig)
        assert _png_size(data) == size, name
        pixels = matplotlib.image.imread(report.io.BytesIO(data), format="png")
        colors = {tuple(p) for p in pixels.reshape(-1, pixels.shape[-1])[::7].tolist()}
        assert len(colors) > 20, f"{name} looks blank"


# ---- the page in a real browser ----

def chromium():
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        if os.environ.get("CI"):
            pytest.fail("Chromium is missing in CI (.ci/run installs it)")
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    return browser


def screenshot(html_file: pathlib.Path, png_file: pathlib.Path, profile: pathlib.Path, height: int = 4000) -> bytes:
    subprocess.run([chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    "--hide-scrollbars", f"--user-data-dir={profile}", f"--screenshot={png_file}",
                    f"--window-size=1280,{height}", html_file.as_uri()],
                   check=True, capture_output=True, timeout=120)
    return png_file.read_bytes()


def test_filtered_report_renders_in_headless_chromium(built, tmp_path):
    out = tmp_path / "page"
    assert report.main([built["filtered"], "--output", str(out)]) == 0
    page, names = _images(out)
    assert "http" not in page.replace("https://", "")  # nothing fetched from the web
    data = screenshot(out / "report.html", tmp_path / "shot.png", tmp_path / "profile")
    assert data.startswith(b"\x89PNG") and _png_size(data) == (1280, 4000)
    pixels = matplotlib.image.imread(report.io.BytesIO(data), format="png")[..., :3]
    # every band of the page holds content (a broken image or an empty page is white)
    for band in range(0, 4000, 500):
        part = pixels[band:band + 500]
        assert (part < 0.9).any(axis=-1).mean() > 0.01, f"rows {band}-{band + 500} are blank"


def test_the_layout_check_sees_labels_drawn_over_a_neighbouring_panel():
    plt = report._pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(6, 2))  # the old report's grid: long names run into the left panel
    axes[1].barh(["a-very-long-subsource-name-that-runs-left", "another-one"], [3, 4])
    axes[0].barh(["x", "y"], [1, 2])
    with pytest.raises(AssertionError):
        check_layout("old", fig)
    plt.close(fig)
