"""Common Crawl pipeline: WARC files -> (page title, start of the main text) pairs.

    python -m pipelines.commoncrawl --input 'crawl/*.warc.gz' --output out/ [--max_passage_words 256]

On the shared job (pipelines.job): a WARC file is a unit (a Common Crawl file is ~1 GB, ~40k pages:
parallelism comes from the number of files); ReadWarcFiles turns each WARC record into one raw
record (sources.formats.warc: HTTP head plus at most --max_html_bytes of an HTML body; nothing of
records over --max_record_bytes), in batches reshuffled so decoding and extraction spread over
every worker. The parser (sources.commoncrawl) makes each a Skipped record or a WebPage, then
ExtractCommonCrawlPairs:

    lines a site repeats within a WARC file removed (RemoveSiteBoilerplate; --boilerplate_min_pages)
    -> filter (Skipped: its reason; pages: the rules) -> one capture per normalised URL (the latest)
    -> one page per exact passage (the shortest URL) -> pairs -> dedup by pair_id

Every WARC record ends as exactly one outcome: used, dropped by reason, or rejected.
"""

import apache_beam as beam

from pipelines import accounting, job
from pipelines.options import source_options
from pipelines.read import Raw, UnitReader
from pipelines.splits import ReadUnit
from pipelines.transforms import FilterRecords, KeepBest, OneCopyPerKey, dropped_outcome
from schemas import reasons
from schemas.pairs import normalize_for_dedup
from sources import commoncrawl
from sources.formats.readers import TruncatedTail
from sources.formats.warc import WarcFileReader, guarded

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
    extraction), pages not read because the crawler called them foreign."""
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
    for name, n in item.cleaned:
        yield (f"cleanup/{name}", n)


class _RepeatedLinesFn(beam.CombineFn):
    """sources.commoncrawl.RepeatedLines as a Beam CombineFn."""

    def __init__(self, min_pages: int):
        self._lines = commoncrawl.RepeatedLines(min_pages)

    def create_accumulator(self):
        return self._lines.create()

    def add_input(self, accumulator, page):
        return self._lines.add(accumulator, page)

    def merge_accumulators(self, accumulators):
        return self._lines.merge(accumulators)

    def extract_output(self, accumulator):
        return self._lines.extract(accumulator)


class _CleanSite:
    """(group, {"pages": [...], "lines": [boilerplate keys]}) -> each page without those lines; how
    much text was read and removed -> the "details" output."""

    def __init__(self, config: commoncrawl.CommonCrawlConfig):
        self._config = config

    def __call__(self, grouped):
        _, joined = grouped
        boilerplate = frozenset(next(iter(joined["lines"]), ()))
        for page in joined["pages"]:
            yield beam.pvalue.TaggedOutput("details", ("boilerplate/text_chars_read", len(page.text)))
            if boilerplate:
                page, lines, chars = commoncrawl.without_boilerplate(page, boilerplate, self._config)
                if lines:
                    yield beam.pvalue.TaggedOutput("details", ("boilerplate/chars_removed", chars))
                    yield beam.pvalue.TaggedOutput("details", ("boilerplate/pages_changed", 1))
            yield page


class RemoveSiteBoilerplate(beam.PTransform):
    """Records -> {"records": the same records, each page without the lines that at least
    --boilerplate_min_pages pages of its site within its WARC file hold (CCNet's line dedup, per
    site), "details": (name, n) of text read and removed}. Line counts go through a combiner (keys
    of distinct lines, each count capped); the pages of one site in one WARC file meet their
    site's boilerplate keys in one CoGroupByKey (bounded by the file: ~40k pages at most)."""

    def __init__(self, config: commoncrawl.CommonCrawlConfig):
        super().__init__()
        self._config = config

    def expand(self, records):
        config = self._config
        parts = records | "HasText" >> beam.Partition(lambda r, _: 0 if commoncrawl.boilerplate_group(r) else 1, 2)
        pages, others = parts[0], parts[1]
        keyed = pages | "KeyBySite" >> beam.Map(lambda p: (commoncrawl.boilerplate_group(p), p))
        repeated = (
            pages
            | "LinesOfPage" >> beam.Map(lambda p: (commoncrawl.boilerplate_group(p), commoncrawl.page_lines(p, config)))
            | "RepeatedLines" >> beam.CombinePerKey(_RepeatedLinesFn(config.boilerplate_min_pages))
        )
        cleaned = (
            {"pages": keyed, "lines": repeated}
            | "JoinSite" >> beam.CoGroupByKey()
            | "CleanPages" >> beam.FlatMap(_CleanSite(config)).with_outputs("details", main="pages")
        )
        merged = (cleaned.pages, others) | "AllRecords" >> beam.Flatten()
        return {"records": merged, "details": cleaned.details}


class _Filter:
    def __init__(self, config: commoncrawl.CommonCrawlConfig):
        self._config = config

    def __call__(self, item):
        return commoncrawl.drop_reason(item, self._config)


class _Slim:
    """A kept page without the texts only the rules read (less to shuffle)."""

    def __init__(self, config: commoncrawl.CommonCrawlConfig):
        self._config = config

    def __call__(self, page: commoncrawl.WebPage) -> commoncrawl.KeptPage:
        return commoncrawl.kept_page(page, self._config)


def _record_key(item) -> str:
    return item.key if isinstance(item, commoncrawl.Skipped) else item.record_id


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
    """Skipped records and pages -> {"pairs", "outcomes", "detail_counts"}: every WARC record gets exactly
    one outcome; how pages were decoded is counted as details (manifest "detail_counts")."""

    def __init__(self, config: commoncrawl.CommonCrawlConfig):
        super().__init__()
        self._config = config

    def expand(self, records):
        config = self._config
        details = []
        if config.boilerplate_min_pages:
            site_clean = records | "SiteBoilerplate" >> RemoveSiteBoilerplate(config)
            records, details = site_clean["records"], [site_clean["details"]]
        filtered = records | "Filter" >> beam.ParDo(
            FilterRecords(_Filter(config), _record_key, slim=_Slim(config))).with_outputs(
            "outcomes", "dropped_keys", main="kept")
        captures = filtered.kept | "OneCapturePerUrl" >> OneCopyPerKey(lambda p: p.url_key, commoncrawl.capture_rank)
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
        outcomes = (filtered.outcomes, captures.outcomes, passages.outcomes, used) | "Outcomes" >> beam.Flatten()
        details = tuple(details) + (records | "PageDetails" >> beam.FlatMap(page_details),)
        all_details = details | "AllDetails" >> beam.Flatten()
        return {"pairs": deduped["pairs"], "outcomes": outcomes, "detail_counts": all_details}


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
)


build_pipeline, run, main = job.entry_points(JOB)


if __name__ == "__main__":
    main()
