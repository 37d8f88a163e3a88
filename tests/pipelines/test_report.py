"""`python -m pipelines.report` on versions the corpus job did not write: a source's and a filtered one."""

import re

from pipelines import report
from schemas import versions
from sources.demo_inputs.corpus import planted_corpus


def _images(folder):
    page = (folder / "report.html").read_text()
    names = re.findall(r'<img src="([^"]+)"', page)
    assert names and all((folder / n).read_bytes().startswith(b"\x89PNG") for n in names)
    return page, names


def test_report_of_a_source_version_computes_its_stats_from_the_shards(tmp_path):
    pairs, _ = planted_corpus(n_plain=30)
    version = versions.write_pair_version(tmp_path / "reddit" / "v1", pairs["reddit"], num_shards=2, dataset="reddit")
    assert report.main([version]) == 0
    page, names = _images(tmp_path / "reddit" / "v1")
    assert "report-dedup.png" not in names and "source version" in page
    assert "<td>reddit</td><td>30</td>" in page  # pairs per source, counted from the shards


def test_report_of_a_filtered_version_shows_keep_rates(tmp_path):
    pairs, _ = planted_corpus(n_plain=20)
    version = versions.write_pair_version(
        tmp_path / "consistency" / "v1", pairs["reddit"][:15] + pairs["stackexchange"][:5], dataset="consistency"
    )
    manifest = versions.read_manifest(version)
    manifest.update(keep_rate={"reddit": 0.75, "stackexchange": 0.25}, pairs_in={"reddit": 20, "stackexchange": 20},
                    pairs_kept={"reddit": 15, "stackexchange": 5})
    versions.write_manifest(version, manifest)
    out = tmp_path / "elsewhere"
    assert report.main([version, "--output", str(out)]) == 0
    page, names = _images(out)
    assert "report-keep.png" in names and "<td>inconsistent</td><td>15</td>" in page
    assert not (tmp_path / "consistency" / "v1" / "report.html").exists()


def test_report_of_an_empty_version(tmp_path):
    version = versions.write_pair_version(tmp_path / "reddit" / "v1", [], dataset="reddit")
    assert report.main([version]) == 0
    _images(tmp_path / "reddit" / "v1")
