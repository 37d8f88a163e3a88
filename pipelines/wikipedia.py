"""Wikipedia pipeline: pages-articles dumps -> (title + section heading, section text) pairs.

    python -m pipelines.wikipedia --input 'dumps/enwiki-*-pages-articles*.xml*.bz2' --output out/

Inputs, as Wikimedia publishes them: ``…-pages-articles-multistream.xml.bz2`` with its
``…-multistream-index.txt.bz2`` beside it (or named with ``--index``), the split multistream files
(``…-multistream1.xml-p1p41242.bz2`` with ``…-multistream-index1.txt-p1p41242.bz2``), plain
``…-pages-articles.xml.bz2``, or an uncompressed/gzipped export. Index files among the inputs are
used as indexes, not read as dumps.

Work units (planned at launch, ``plan_units``): a dump with an index is cut at bz2 stream starts
into units of about ``--split_mb`` MiB (sources.formats.bz2_streams), so one 23 GB file spreads over many
workers; any other file is one unit. Both read the same pages.

On the shared job (pipelines.job): ReadWikiPages cuts each unit into ``<page>`` records (the
file's prolog checked first: a DTD or entity declaration refuses the file; a corrupt or cut bz2
stream is one truncated_input reject at its byte offset, the other streams go on; a page over
--max_page_bytes is one record_too_large reject, never held whole; an index offset where no stream
starts is skipped, counted in the Beam counter ccpairs.index/wikipedia/offset_not_a_stream) -> batches ->
ParseBatch: page XML -> typed page with its sections cleaned (sources.wikipedia; bad XML or
wikitext is that page's reject), the page rules in the same batch (a dropped page is a count per
batch, never an element) -> ExtractWikipediaPairs: one copy per page id (pages shuffled as plain
tuples, pipelines.transforms.pack) ->
a pair per section -> dedup by pair_id -> per-page fate (used, duplicate_pair).

Counting: records are pages; every page ends as used, dropped (not_article, redirect,
disambiguation, list_page, no_sections, duplicate_record, duplicate_pair) or rejected. Sections
are Beam counters: ``sections/paired`` and ``sections/dropped/<reason>`` (boilerplate_section,
empty_text, too_short, markup_left); so is what the cleaning rules removed, ``cleaned/<rule>``
(broken_sentence, dangling_intro, symbol_run).
"""

import itertools
import logging
import posixpath
from typing import Dict, Iterator, List, Optional

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics

from pipelines import accounting, job
from pipelines.options import UsageError, source_options
from pipelines.read import OUTCOMES, Counted, Raw, UnitReader, open_unit
from pipelines.splits import ReadUnit
from pipelines.transforms import FilterRecords, OneCopyPerKey
from schemas import reasons
from sources import wikipedia
from sources.errors import RejectRecord
from sources.formats import bz2_streams
from sources.formats.mediawiki_xml import (MAX_PAGE_BYTES, PROLOG_MAX_BYTES, CutPage, OversizedPage, PageBytes,
                                           PageSplitter, Prolog, base_language_of, dbname_of, root_language_of)
from sources.formats.readers import TruncatedInput, TruncatedTail, iter_decompressed_chunks
from sources.formats.stackexchange_xml import check_prolog

PAGES_PER_BATCH = 100  # raw pages are ~30 KB of XML on average: batches of ~3 MB
FATE_PRIORITY = [reasons.USED, reasons.DROP_DUPLICATE_PAIR]
SECTIONS = "sections"
CLEANED = "cleaned"  # detail counts: sentences and lines the cleaning rules removed (wikitext.CLEANUPS)
# Not records, so not in the manifest: index entries that point where no bz2 stream starts.
INDEX_COUNTERS = "ccpairs.index"
OFFSET_NOT_A_STREAM = "wikipedia/offset_not_a_stream"

WikipediaOptions = source_options(wikipedia.SOURCE, wikipedia.WikipediaConfig)


def is_bz2(path: str) -> bool:
    return path.lower().endswith(".bz2")


# ---- reading ------------------------------------------------------------------------------------


class PageTooLarge(TruncatedTail):
    """A page over --max_page_bytes: a rejected record holding its head; the rest was never held."""

    reason = reasons.REJECT_RECORD_TOO_LARGE


def _pieces(handle, unit: ReadUnit, max_page_bytes: int) -> Iterator:
    """A unit's decompressed bytes cut into Prolog / PageBytes / OversizedPage / CutPage, plus
    TruncatedTail for bad streams. A range that does not start at a stream (its index is wrong)
    starts at the next one: the range before reads the stream it cut through whole."""
    splitter = PageSplitter(max_page_bytes)
    if is_bz2(unit.path):
        for item in bz2_streams.iter_streams(handle, unit.start, unit.end, align=unit.start > 0):
            if isinstance(item, bz2_streams.NotAStream):
                _count_offset_not_a_stream(unit, item)
                continue
            if isinstance(item, bz2_streams.BadStream):
                cut = splitter.drop_partial()
                yield TruncatedTail(item.offset, (cut.data if cut else b"") + item.held,
                                    f"bz2 stream at byte {item.offset}: {item.detail}")
                continue
            yield from splitter.feed(item.offset, item.data)
    else:
        try:
            for chunk in iter_decompressed_chunks(handle, unit.path):
                yield from splitter.feed(0, chunk)
        except TruncatedInput as exc:
            cut = splitter.drop_partial()
            yield TruncatedTail(cut.number if cut else 0, cut.data if cut else b"", f"input ends early: {exc}")
    yield from splitter.close()


def _count_offset_not_a_stream(unit: ReadUnit, item: bz2_streams.NotAStream) -> None:
    """An index entry that names no stream start: a fault of the index, counted once, never a record."""
    Metrics.counter(INDEX_COUNTERS, OFFSET_NOT_A_STREAM).inc()
    logging.warning("%s: no bz2 stream starts at byte %d, where the index put one (skipped; reading on at %s)",
                    unit.path, item.offset, item.resumed if item.resumed is not None else "the next range")


def _record(piece, bz2: bool, max_page_bytes: int):
    """A piece -> a raw record (Raw, or a TruncatedTail for a page cut off or too large), or None (a prolog)."""
    if isinstance(piece, PageBytes):
        if bz2:
            return Raw(None, f"page in the bz2 stream at byte {piece.origin}: ", piece.data)
        return Raw(piece.number, "", piece.data)
    if isinstance(piece, OversizedPage):
        where = f"the page in the bz2 stream at byte {piece.origin}" if bz2 else f"page {piece.number}"
        return PageTooLarge(piece.origin if bz2 else piece.number, piece.head,
                            f"{where} is {piece.size} bytes, over --max_page_bytes {max_page_bytes}: skipped unread")
    if isinstance(piece, CutPage):
        where = f"the bz2 stream at byte {piece.origin}" if bz2 else "the input"
        return TruncatedTail(piece.origin if bz2 else piece.number, piece.data,
                             f"{where} ends inside a page (no </page>)")
    if isinstance(piece, TruncatedTail):
        return piece
    return None


def read_prolog(path: str) -> bytes:
    """The bytes of a dump before its first page (decompressed), for check_prolog."""
    with open_unit(path) as handle:
        if is_bz2(path):
            head = bz2_streams.read_head(handle, PROLOG_MAX_BYTES, stop=b"<page>")
        else:
            head = b""
            for chunk in iter_decompressed_chunks(handle, path):
                head += chunk
                if len(head) >= PROLOG_MAX_BYTES or b"<page>" in head:
                    break
    cut = head.find(b"<page>")
    return head[:cut] if cut >= 0 else head[:PROLOG_MAX_BYTES]


def _refuse_unsafe(prolog: bytes) -> None:
    try:
        check_prolog(prolog)
    except RejectRecord as exc:
        raise RejectRecord(exc.reason, exc.detail, prolog) from None


class ReadWikiPages(UnitReader):
    """A dump, or a byte range of bz2 streams of one, -> its ``<page>`` elements as raw records.

    The file's prolog is checked before any page is read: the unit that starts the file checks
    its own head, a later range reads the file's first stream to check it.
    """

    def __init__(self, max_page_bytes: int = MAX_PAGE_BYTES, batch_size: int = PAGES_PER_BATCH):
        super().__init__(wikipedia.SOURCE, batch_size)
        self._max_page_bytes = max_page_bytes

    def raw_records(self, unit: ReadUnit, stack) -> Iterator:
        if unit.start > 0:
            _refuse_unsafe(read_prolog(unit.path))
        pieces = _pieces(self.open(unit, stack), unit, self._max_page_bytes)
        head = []
        for piece in pieces:  # the Prolog comes before any page
            head.append(piece)
            if isinstance(piece, Prolog):
                if unit.start == 0:
                    _refuse_unsafe(piece.data)
                break
        bz2, cap = is_bz2(unit.path), self._max_page_bytes
        return (r for r in (_record(p, bz2, cap) for p in itertools.chain(head, pieces)) if r is not None)


# ---- units ------------------------------------------------------------------------------------


def _read_offsets(index_path: str) -> List[int]:
    with open_unit(index_path) as handle:
        def chunks():
            for item in bz2_streams.iter_streams(handle, hold_bytes=0):
                if isinstance(item, bz2_streams.BadStream):
                    raise bz2_streams.BadIndex(f"bz2 stream at byte {item.offset}: {item.detail}")
                yield item.data
        return bz2_streams.stream_offsets(chunks())


def _explicit_indexes(pattern: str) -> List[str]:
    if not pattern:
        return []
    found = FileSystems.match([pattern])[0].metadata_list
    if not found:
        raise UsageError(f"--index {pattern!r} matches no file")
    return sorted(m.path for m in found)


def index_for(dump: str, candidates: List[str], only_dump: bool, explicit: List[str]) -> Optional[str]:
    """The index of a multistream dump: named as Wikimedia names it, among the candidates or beside it;
    an --index given for a single dump is its index whatever its name."""
    if only_dump and len(explicit) == 1:
        return explicit[0]
    wanted = bz2_streams.index_name_for(posixpath.basename(dump))
    if wanted is None:
        return None
    for candidate in candidates:
        if posixpath.basename(candidate) == wanted:
            return candidate
    beside = posixpath.join(posixpath.dirname(dump), wanted)
    return beside if FileSystems.exists(beside) else None


def plan_units(inputs: List[Dict], config: wikipedia.WikipediaConfig) -> List[ReadUnit]:
    """A dump with an index: ranges of bz2 streams of about split_mb MiB; any other: one unit."""
    explicit = _explicit_indexes(config.index)
    indexes = [str(i["path"]) for i in inputs if bz2_streams.is_index_name(posixpath.basename(str(i["path"])))]
    dumps = [i for i in inputs if str(i["path"]) not in indexes]
    units: List[ReadUnit] = []
    for item in dumps:
        path, size = str(item["path"]), int(item["bytes"])
        index = index_for(path, explicit + indexes, len(dumps) == 1, explicit) if is_bz2(path) else None
        if index is None or config.split_mb <= 0:
            units.append(ReadUnit(path, size=size))
            continue
        try:
            offsets = _read_offsets(index)
        except (bz2_streams.BadIndex, OSError, EOFError) as exc:
            logging.warning("index %s unusable (%s): %s is read as one unit", index, exc, path)
            units.append(ReadUnit(path, size=size))
            continue
        beyond = sum(1 for offset in offsets if offset >= size)
        if beyond:
            logging.warning("index %s: %d offsets at or past the end of %s (%d bytes) are ignored",
                            index, beyond, path, size)
        ranges = bz2_streams.group_streams(offsets, size, max(1, int(config.split_mb * (1 << 20))))
        logging.info("%s: %d streams in %d units (index %s)", path, len(offsets) + 1, len(ranges), index)
        if len(ranges) == 1:
            units.append(ReadUnit(path, size=size))
        else:
            units.extend(ReadUnit(path, start, end, i, len(ranges), size) for i, (start, end) in enumerate(ranges))
    return units


# ---- parsing ------------------------------------------------------------------------------------


def site_of_file(path: str) -> wikipedia.Site:
    """The wiki and language of a dump: siteinfo's dbname, Wikimedia's file name, the root's xml:lang
    or siteinfo's <base> (sources.wikipedia.site_of); language ID per page when none tells."""
    try:
        prolog = read_prolog(path)
    except Exception:  # noqa: BLE001 - an unreadable head is the reader's business; the name still tells
        prolog = b""
    return wikipedia.site_of(dbname_of(prolog), root_language_of(prolog), base_language_of(prolog), path)


def wiki_of_file(path: str) -> str:
    """The wiki a dump belongs to: its siteinfo's dbname, else Wikimedia's file name, else its language's
    Wikipedia (xml:lang), else "unknown"."""
    return site_of_file(path).wiki


class _Parser:
    """Picklable parse callable: (page XML, path) -> typed page; the wiki of each file is looked up once."""

    def __init__(self, config: wikipedia.WikipediaConfig):
        self._config = config
        self._sites: Dict[str, wikipedia.Site] = {}

    def __call__(self, raw: bytes, path: str) -> wikipedia.WikiPage:
        site = self._sites.get(path)
        if site is None:
            site = self._sites[path] = site_of_file(path)
        return wikipedia.parse_page_xml(raw, site.wiki, self._config, site.lang)


# ---- extraction ---------------------------------------------------------------------------------


class _PagePairs(beam.DoFn):
    """A kept page -> its pairs; its sections counted (sections/paired, sections/dropped/<reason>)."""

    def __init__(self, config: wikipedia.WikipediaConfig):
        self._config = config

    def process(self, page: wikipedia.WikiPage):
        for reason, n in page.section_drops:
            name = f"{SECTIONS}/{reasons.counter_name('dropped', reason)}"
            accounting.count(name, n)
            yield beam.pvalue.TaggedOutput("counts", (name, n))
        accounting.count(f"{SECTIONS}/paired", len(page.sections))
        yield beam.pvalue.TaggedOutput("counts", (f"{SECTIONS}/paired", len(page.sections)))
        for rule, n in page.cleanups:
            name = f"{CLEANED}/{rule}"
            accounting.count(name, n)
            yield beam.pvalue.TaggedOutput("counts", (name, n))
        yield from wikipedia.pairs_of(page, self._config)


class ExtractWikipediaPairs(beam.PTransform):
    """Typed pages -> {"pairs", "outcomes", "detail_counts"}: every page gets exactly one outcome;
    sections are counted as details (manifest "detail_counts")."""

    def __init__(self, config: wikipedia.WikipediaConfig):
        super().__init__()
        self._config = config

    def expand(self, pages):
        if isinstance(pages, dict):  # the job: the page rules ran inside the read batch (page_rules)
            kept, early = pages["records"], pages[OUTCOMES]
        else:  # typed pages (tests)
            filtered = pages | "PageRules" >> beam.ParDo(
                FilterRecords(wikipedia.drop_reason, lambda p: p.key)
            ).with_outputs("outcomes", "dropped_keys", main="kept")
            kept, early = filtered.kept, filtered.outcomes
        unique = kept | "OneCopyPerPage" >> OneCopyPerKey(lambda p: p.key, wikipedia.copy_rank_key)
        made = unique.records | "MakePairs" >> beam.ParDo(_PagePairs(self._config)).with_outputs("counts", main="pairs")
        deduped = made.pairs | "DedupPairs" >> accounting.DedupPairs()
        resolved = (
            deduped["fates"]
            | "FateByPage" >> beam.Map(lambda kv: (wikipedia.page_key_of(kv[0]), kv[1]))
            | "Resolve" >> accounting.ResolveFates(FATE_PRIORITY)
        )
        outcomes = (early, unique.outcomes, resolved) | "Outcomes" >> beam.Flatten()
        return {"pairs": deduped["pairs"], "outcomes": outcomes, "detail_counts": made.counts}


def page_rules(_config: wikipedia.WikipediaConfig):
    """The page rules, run inside the read batch: a redirect or a talk page is a count, not an element."""
    return _page_rules


def _page_rules(page: wikipedia.WikiPage):
    reason = wikipedia.drop_reason(page)
    if reason is None:
        yield page
    else:
        yield Counted(accounting.dropped(reason))


JOB = job.SourceJob(
    name=wikipedia.SOURCE,
    options_class=WikipediaOptions,
    reader=lambda config: ReadWikiPages(config.max_page_bytes),
    parse=_Parser,
    extract=ExtractWikipediaPairs,
    plan_units=plan_units,
    decide=page_rules,
)


build_pipeline, run, main = job.entry_points(JOB)


if __name__ == "__main__":
    # Run the job of the module imported under its own name: a class defined here then pickles as
    # pipelines.wikipedia.X, which SDK workers (multi-processing, Dataflow) import; __main__.X they cannot.
    from pipelines import wikipedia as job_module

    job_module.main()
