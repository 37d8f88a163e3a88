"""Common Crawl pipeline: WARC files -> (page title, start of the main text) pairs.

    python -m pipelines.commoncrawl --input 'crawl/*.warc.gz' --output out/ [--max_passage_words 256]

On the shared job (pipelines.job): a WARC file is a unit (a Common Crawl file is ~1 GB, ~40k pages:
parallelism comes from the number of files); ReadWarcFiles turns each WARC record into one raw
record (sources.formats.warc: HTTP head plus at most --max_html_bytes of an HTML body; nothing of
records over --max_record_bytes), in batches reshuffled so decoding and extraction spread over
every worker. In the batch, the parser (sources.commoncrawl) makes each a Skipped record or a
WebPage and _Decide ends what needs no site: skipped records (requests, metadata, non-HTML,
non-2xx: most of a crawl) and pages refused before extraction become (outcome, n) counts, never
elements; their details too. Only pages with main text travel on, packed as plain tuples:

    (site group, page) -> RemoveBoilerplateAndFilter: one GroupByKey per site within a WARC file;
        lines on --boilerplate_min_pages of its pages removed (CCNet), then the rules, cheapest
        first (language ID last) -> kept pages (KeptPage, slim), (outcome, n) and details per group
    -> one capture per normalised URL (the latest) -> one page per exact passage (the shortest URL)
    -> pairs -> dedup by pair_id

A page with no site to clean (no host) is judged in the batch too, and so is every page with
--boilerplate_min_pages 0: kept ones go straight to the captures.

Every WARC record ends as exactly one outcome: used, dropped by reason, or rejected.
"""

import apache_beam as beam

from pipelines import accounting, job
from pipelines.options import source_options
from pipelines.read import OUTCOMES, Counted, Raw, UnitReader
from pipelines.splits import ReadUnit
from pipelines.transforms import KeepBest, OneCopyPerKey, dropped_outcome, pack, unpack
from schemas import reasons
from schemas.pairs import normalize_for_dedup
from sources import commoncrawl
from sources.formats.readers import TruncatedTail
from sources.formats.warc import WarcFileReader, guarded
from sources.text.web_text import line_key

CommonCrawlOptions = source_options(commoncrawl.SOURCE, commoncrawl.CommonCrawlConfig)
FATE_PRIORITY = [reasons.USED, reasons.DROP_DUPLICATE_PAIR]
# Raw records per batch: an HTML body travels with its record (at most --max_html_bytes, ~60 KB on
# average), so batches are smaller than the line sources' 500.
BATCH_SIZE = 100
class ReadWarcFiles(UnitReader):
    """A WARC file -> one raw record per WARC record (sources.formats.warc.WarcFileReader).

    A file that starts with no WARC record is one not_a_warc reject; a stream that breaks later is
    one truncated_input reject for the unread rest, after which the file counts as read to its end.
    """

    def __init__(self, config: commoncrawl.CommonCrawlConfig):
        super().__init__(commoncrawl.SOURCE, batch_size=BATCH_SIZE)
        self._max_record, self._max_html = config.max_record_bytes, config.max_html_bytes

    def raw_records(self, unit: ReadUnit, stack):
        handle = self.open(unit, stack)
        reader = WarcFileReader(guarded(handle), unit.path, self._max_record, self._max_html)
        return self._raws(reader, handle)

    @staticmethod
    def _raws(reader: WarcFileReader, handle):
        for item in reader:
            if isinstance(item, TruncatedTail):
                yield item
                handle.seek(0, 2)  # the rest is reported unread; the consumed-bytes check must not count it again
                return
            yield Raw(item.position, f"record {item.position} at byte {item.offset}: ", item.data)


class _Parser:
    """Picklable parse callable bound to a config: (raw record, path) -> Skipped or WebPage."""

    def __init__(self, config: commoncrawl.CommonCrawlConfig):
        self._config = config

    def __call__(self, raw: bytes, path: str):
        return commoncrawl.parse_record(raw, self._config, path)


def page_details(item):
    """What is not a record but worth a number in the manifest: where each page's charset came from
    (utf-8, http, meta, detected, bom, guess), pages whose HTML was cut at --max_html_bytes, pages
    whose text was mojibake and was repaired, pages nested deeper than --max_dom_depth (plain-text
    extraction), pages not read because the crawler called them foreign. What text cleanup did
    (cleanup_details) is counted once the site's boilerplate is gone."""
    if not isinstance(item, commoncrawl.WebPage):
        return
    if not item.decoded:
        yield ("pages/not_read_crawler_language", 1)
        return
    yield (f"pages/charset_from_{item.charset.split(':')[0]}", 1)
    if item.body_cut:
        yield ("pages/html_cut_at_max_html_bytes", 1)
    if item.mojibake_repaired:
        yield ("pages/mojibake_repaired", 1)
    if item.too_deep:
        yield (f"pages/{commoncrawl.PLAIN_TEXT_OVER_MAX_DOM_DEPTH}", 1)


DETAILS, KEPT = "details", "kept"


def cleanup_details(page: commoncrawl.WebPage):
    """(cleanup/<name>, n) of what text cleanup did to a page, as it ships (after its site's boilerplate)."""
    for name, n in page.cleaned:
        yield (f"cleanup/{name}", n)


class _Decide:
    """Inside the read batch (pipelines.read.ParseBatch): a skipped record, and a page the rules can
    judge without its site (no main text: refused for its title or its crawler's language; a URL
    without a host; or every page when --boilerplate_min_pages is 0), end here as counts; so do their
    details. What goes on: a page with text as (its site group, the page packed) on the main output,
    for RemoveBoilerplateAndFilter; a page kept here (KeptPage) on KEPT."""

    def __init__(self, config: commoncrawl.CommonCrawlConfig):
        self._config = config

    def __call__(self, item):
        if isinstance(item, commoncrawl.Skipped):
            yield Counted(accounting.dropped(item.reason))
            return
        for name, n in page_details(item):
            yield Counted(name, n, DETAILS)
        group = commoncrawl.boilerplate_group(item) if self._config.boilerplate_min_pages else ""
        if group:
            yield (group, pack(item))
            return
        for name, n in cleanup_details(item):
            yield Counted(name, n, DETAILS)
        reason = commoncrawl.drop_reason(item, self._config)
        if reason is not None:
            yield Counted(accounting.dropped(reason))
        else:
            yield beam.pvalue.TaggedOutput(KEPT, commoncrawl.kept_page(item, self._config))


class _SiteBoilerplateAndRules(beam.DoFn):
    """(site group, [packed pages]) -> kept pages (KeptPage); dropped pages and the group's details as
    (name, n) counts, once per group. Two passes over the group: the lines on enough of its pages
    (sources.commoncrawl.RepeatedLines: a dict of distinct lines, each count capped), then each page
    without them, its passage cut again, through the rules."""

    def __init__(self, config: commoncrawl.CommonCrawlConfig):
        self._config = config

    def process(self, grouped):
        config = self._config
        _, pages = grouped
        lines = commoncrawl.RepeatedLines(config.boilerplate_min_pages)
        counts, page_keys = lines.create(), []
        for packed in pages:
            page = unpack(packed)
            keys = commoncrawl.page_line_keys(page)
            counts = lines.add(counts, commoncrawl.page_lines(page, config, keys))
            page_keys.append("".join(keys))  # ~1 KB a page: each line hashed once, not again to remove it
        boilerplate = frozenset(lines.extract(counts))
        del counts
        outcomes, details = {}, {}
        for packed, joined in zip(pages, page_keys):
            page = unpack(packed)
            _add(details, "boilerplate/text_chars_read", len(page.text))
            if boilerplate:
                keys = [joined[i:i + _KEY_CHARS] for i in range(0, len(joined), _KEY_CHARS)]
                page, removed, chars = commoncrawl.without_boilerplate(page, boilerplate, config, keys)
                if removed:
                    _add(details, "boilerplate/chars_removed", chars)
                    _add(details, "boilerplate/pages_changed", 1)
            for name, n in cleanup_details(page):
                _add(details, name, n)
            reason = commoncrawl.drop_reason(page, config)
            if reason is None:
                yield commoncrawl.kept_page(page, config)
            else:
                _add(outcomes, accounting.dropped(reason), 1)
        for outcome, n in sorted(outcomes.items()):
            accounting.count(outcome, n)
            yield beam.pvalue.TaggedOutput(OUTCOMES, (outcome, n))
        for name, n in sorted(details.items()):
            yield beam.pvalue.TaggedOutput(DETAILS, (name, n))


_KEY_CHARS = len(line_key(""))


def _add(counts: dict, name: str, n: int) -> None:
    counts[name] = counts.get(name, 0) + n


class RemoveBoilerplateAndFilter(beam.PTransform):
    """(site group, packed page) -> {"pages": kept pages, "outcomes": (dropped/<reason>, n), "details":
    (name, n)}: each page without the lines that at least --boilerplate_min_pages pages of its site
    within its WARC file hold (CCNet's line dedup, per site; a short line needs fewer), then the rules.
    One GroupByKey by site within a WARC file (bounded by the file: ~40k pages at most), whose pages
    are read twice (counting, cleaning): no CoGroupByKey, no page crosses a second shuffle."""

    def __init__(self, config: commoncrawl.CommonCrawlConfig):
        super().__init__()
        self._config = config

    def expand(self, site_pages):
        return (
            site_pages
            | "PagesBySite" >> beam.GroupByKey()
            | "CleanAndFilter" >> beam.ParDo(_SiteBoilerplateAndRules(self._config)).with_outputs(
                OUTCOMES, DETAILS, main="pages")
        )


def passage_rank(page: commoncrawl.KeptPage):
    """Of pages with one passage, the shortest URL is kept (the canonical one, without tracking
    parameters, most often); then the greatest, for a total order."""
    return (-len(page.url), page.url)


class OnePagePerPassage(beam.PTransform):
    """Pages -> {"pages": one page per exact passage (normalised as everywhere in ccpairs), "outcomes":
    duplicate_passage per other page}. A combiner: templated text shared by a million pages is
    never one worker's list."""

    def expand(self, pages):
        def emit(kv):
            _, (page, copies) = kv
            for _ in range(copies - 1):
                yield dropped_outcome(reasons.DROP_DUPLICATE_PASSAGE)
            yield page

        return (
            pages
            | "KeyByPassage" >> beam.Map(lambda p: (normalize_for_dedup(p.passage), p))
            | "BestPage" >> beam.CombinePerKey(KeepBest(passage_rank))
            | "CountCopies" >> beam.FlatMap(emit).with_outputs("outcomes", main="pages")
        )


def _page_fate(kv):
    """DedupPairs keys fates by query_id and passage_id; both lead back to the page's URL without its
    fragment (the query_id holds no "#", the passage_id's only "#" starts its suffix), which the
    capture step made one page's alone. No URL, whatever fragment it ends in, can split a page in two."""
    key, fate = kv
    return (commoncrawl.page_url(key), fate)


class ExtractCommonCrawlPairs(beam.PTransform):
    """The read's {"records", "outcomes", "details", "kept"} (see _Decide) -> {"pairs", "outcomes",
    "detail_counts"}: every WARC record gets exactly one outcome; how pages were decoded and cleaned
    is counted as details (manifest "detail_counts")."""

    def __init__(self, config: commoncrawl.CommonCrawlConfig):
        super().__init__()
        self._config = config

    def expand(self, read):
        outcomes, details, kept = [read[OUTCOMES]], [read[DETAILS]], read[KEPT]
        if self._config.boilerplate_min_pages:
            sites = read["records"] | "SiteBoilerplate" >> RemoveBoilerplateAndFilter(self._config)
            kept = (kept, sites["pages"]) | "KeptPages" >> beam.Flatten()
            outcomes.append(sites[OUTCOMES])
            details.append(sites[DETAILS])
        captures = kept | "OneCapturePerUrl" >> OneCopyPerKey(lambda p: p.url_key, commoncrawl.capture_rank)
        passages = captures.records | "OnePagePerPassage" >> OnePagePerPassage()
        deduped = (
            passages.pages
            | "MakePairs" >> beam.Map(commoncrawl.make_web_pair)
            | "DedupPairs" >> accounting.DedupPairs()
        )
        used = (
            deduped["fates"]
            | "FatePerPage" >> beam.Map(_page_fate)
            | "Resolve" >> accounting.ResolveFates(FATE_PRIORITY)
        )
        outcomes += [captures.outcomes, passages.outcomes, used]
        return {"pairs": deduped["pairs"], "outcomes": tuple(outcomes) | "Outcomes" >> beam.Flatten(),
                "detail_counts": tuple(details) | "AllDetails" >> beam.Flatten()}


def manifest_extra(_inputs, config: commoncrawl.CommonCrawlConfig):
    """Which reader and extractor made the version (their versions change the text), and whether
    the perplexity rule ran."""
    from importlib.metadata import version

    return {"perplexity_rule": commoncrawl.perplexity_rule(config),
            "libraries": {name: version(name) for name in ("fastwarc", "resiliparse")}}


JOB = job.SourceJob(
    name=commoncrawl.SOURCE,
    options_class=CommonCrawlOptions,
    reader=ReadWarcFiles,
    parse=_Parser,
    extract=ExtractCommonCrawlPairs,
    manifest_extra=manifest_extra,
    decide=_Decide,
    decide_tags=(DETAILS, KEPT),
)


build_pipeline, run, main = job.entry_points(JOB)


if __name__ == "__main__":
    # Run the job of the module imported under its own name: a class defined here then pickles as
    # pipelines.commoncrawl.X, which SDK workers (multi-processing, Dataflow) import; __main__.X they cannot.
    from pipelines import commoncrawl as job_module

    job_module.main()
