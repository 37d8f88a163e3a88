"""Semantic Scholar pipeline: (title, abstract) and citation pairs from S2AG datasets and S2ORC 2020.

    python -m pipelines.semanticscholar --input 'dumps/s2ag/*/*.jsonl.gz' --output out/ \
        [--citation_pairs title-title] [--max_citations_per_paper 50]

On the shared job (pipelines.job): JSON lines (any of the five record kinds, told apart by their
fields), keyed by paper inside the read batch (split_record: a part by its paper id, a citation row
or a legacy record's outbound citation by its citing id; unresolved and self-citations are counts
per batch) -> ExtractSemanticScholarPairs, three keyed stages and the paper fates. Every element
between stages is a plain tuple of str/int (Beam's FastPrimitivesCoder writes it natively; nothing
is pickled), and no stage is fed by a Flatten (the in-process runner copies a Flatten's input):

    PerPaper (a combiner per paper id): its parts merged, its own references
      -> JudgePapers: every rule once per paper (language ID once per text), one copy per row;
         per reference an edge (cap rank, citing id, row or legacy, the citing end: query text and
         year, or why it cannot be one) keyed by the cited id; the paper's own value keyed by itself:
         its cited end (passage text, score, lang, or why not), its (title, abstract) pair, and its
         records and base fate while a pair may still use it
    PerCited (a combiner per paper id): its own value and the --max_citations_per_paper edges with
        the smallest hash (2 x cap held at most, whatever the citations)
      -> Pairs: its (title, abstract) pair and citation pairs as candidates; a row's reason
    OnePairPerId (a combiner): the smallest (query_id, passage_id) per pair_id, and the rows behind
        its candidates -> Winners: the pairs (pair_row tuples, to the sink)
    BestFatePerPaper (a combiner): a paper's records, base fate and the notices of its pairs

No worker holds a paper's whole citing list: the cap is a combiner, and a paper's combiner holds
its own references. Only the texts a pair needs travel with an edge; a paper's whole record never
joins anything.

Accounting: every record of a paper (papers, abstracts, s2orc, legacy) ends as the paper does (used,
or why not; a second record of the same kind is duplicate_record); every citation row as used or
why not. Outcomes that are certain where they are decided leave as (outcome, n) counts per bundle:
a row's copies, over_cap, a missing or refused end, whether its pair was kept (the pair_id combiner
counts the rows behind its candidates), a paper that can be in no pair. Only a paper that may be
in a pair waits for its fate: its records and base fate, "duplicate_pair" when a citation pair
takes it and "used" from the kept pairs (each notice once per paper and bundle).
"""

import calendar
import functools
from typing import Any, Optional, Tuple

import apache_beam as beam

from pipelines import accounting, job
from pipelines.accounting import pair_row
from pipelines.options import source_options
from pipelines.read import OUTCOMES, Counted, LineFileReader
from pipelines.transforms import dropped_outcome
from schemas import reasons
from schemas.pairs import make_pair_id
from sources import semanticscholar
from sources.text.abstract_text import not_an_abstract

SemanticScholarOptions = source_options(semanticscholar.SOURCE, semanticscholar.SemanticScholarConfig)
FATE_PRIORITY = [
    reasons.USED,
    reasons.DROP_DUPLICATE_PAIR,
    reasons.DROP_CITED_MISSING,
    reasons.DROP_CITING_MISSING,
    reasons.DROP_NOT_AN_ABSTRACT,  # a row to a refused end: why, rather than over_cap (a paper has one such fate)
    reasons.DROP_NON_ENGLISH,
    reasons.DROP_OVER_CAP,
    reasons.DROP_NO_TITLE,
    reasons.DROP_NO_ABSTRACT,
    reasons.DROP_TOO_SHORT,
    reasons.DROP_TOO_LONG,
    reasons.DROP_ABSTRACT_IS_TITLE,
    reasons.DROP_NO_PAIR,
]
RANK = {fate: i for i, fate in enumerate(FATE_PRIORITY)}
USED_RANK, DUPLICATE_RANK = RANK[reasons.USED], RANK[reasons.DROP_DUPLICATE_PAIR]
# each fate's outcome string, made once (a stage adds hundreds of thousands)
OUTCOME = {fate: reasons.USED if fate == reasons.USED else accounting.dropped(fate)
           for fate in FATE_PRIORITY + [reasons.DROP_DUPLICATE_RECORD, reasons.DROP_SELF_CITATION]}
FATES = "fates"
ROW, LEGACY = 0, 1  # an edge's order after its rank: a row before a legacy record's copy of the same edge
NOTIFIED_PER_BUNDLE = 100_000  # (paper id, fate) notices remembered per bundle, so each is sent once
RANK_OFFSET = 1 << 63  # cap ranks minus this fit a signed 64-bit int, which Beam writes as a varint (not pickled)


def split_record(record):
    """Inside the read batch, everything keyed by the paper it belongs to: a part as (paper id,
    fields); a citation row or a legacy record's outbound citation as (citing id, (cited id, 1 for a
    row)). Unresolved and self-citations end here, counted per batch."""
    if isinstance(record, semanticscholar.Citation):
        if record.cited is None:
            yield Counted(OUTCOME[reasons.DROP_CITED_MISSING])
        elif record.cited == record.citing:
            yield Counted(OUTCOME[reasons.DROP_SELF_CITATION])
        else:
            yield (record.citing, (record.cited, 1))
        return
    yield (record.paper_id, semanticscholar.part_fields(record))
    for cited in record.cites:
        if cited != record.paper_id:
            yield (record.paper_id, (cited, 0))


def _decide(_config):
    return split_record


class _Split(beam.DoFn):
    """split_record as a DoFn, for typed records given to ExtractSemanticScholarPairs directly (tests)."""

    def process(self, record):
        for out in split_record(record):
            yield dropped_outcome(out.outcome.split("/", 1)[1]) if type(out) is Counted else out


class _PaperAndReferences(beam.CombineFn):
    """Per paper id: [its parts merged (sources.semanticscholar.merge_fields, commutative) or None,
    its references [(cited id, 1 for a row), ...]]. A paper's own reference list is what it holds,
    as a join per citing paper would."""

    def create_accumulator(self):
        return [None, []]

    def add_input(self, acc, value):
        if len(value) == 2:  # a reference
            acc[1].append(value)
        else:
            acc[0] = value if acc[0] is None else semanticscholar.merge_fields(acc[0], value)
        return acc

    def merge_accumulators(self, accs):
        merged = [None, []]
        for fields, refs in accs:
            if fields is not None:
                merged[0] = fields if merged[0] is None else semanticscholar.merge_fields(merged[0], fields)
            merged[1].extend(refs)
        return merged

    def extract_output(self, acc):
        return acc


class _CountsAndNotices(accounting.CountsPerBundle):
    """A DoFn whose certain outcomes are summed over its bundle and leave once as (outcome, n) on
    "outcomes" (accounting.CountsPerBundle), and whose fate notices to papers ((paper id, (fate rank,
    ()))) go once per paper, fate and bundle (a paper in 50 pairs is told once that it is used)."""

    def start_bundle(self):
        super().start_bundle()
        self._noticed = set()

    def notice(self, paper_id: str, rank: int):
        if (paper_id, rank) not in self._noticed:
            if len(self._noticed) >= NOTIFIED_PER_BUNDLE:
                self._noticed.clear()
            self._noticed.add((paper_id, rank))
            yield beam.pvalue.TaggedOutput(FATES, (paper_id, (rank, ())))

    def finish_bundle(self):
        yield from super().finish_bundle()
        self._noticed = set()


def _record_outcomes(fate: str, records, add):
    """A paper's records as outcomes: one per kind gets the paper's fate, the others of that kind are
    duplicate_record."""
    outcome = OUTCOME[fate]
    for _, count in records:
        add(outcome)
        add(OUTCOME[reasons.DROP_DUPLICATE_RECORD], count - 1)


@functools.lru_cache(maxsize=4096)
def _new_year(year: int) -> Tuple[int, int]:
    """pair_row's created_at of January 1st of `year` (UTC): (epoch seconds, microseconds)."""
    return (calendar.timegm((year, 1, 1, 0, 0, 0)), 0)


def _citation_row(citing: str, query: str, year: Optional[int], cited: str, passage: str, score: Optional[int],
                  fields: Tuple[str, str], lang: str) -> Tuple:
    """pair_row(sources.semanticscholar.citation_pair(...)), built as the tuple (no dict, no datetime
    on the way): what every citation candidate is made as."""
    if not query or not query.strip():
        raise ValueError("pair query is empty")
    if not passage or not passage.strip():
        raise ValueError("pair passage is empty")
    return (make_pair_id(semanticscholar.SOURCE, query, passage), semanticscholar.SOURCE, semanticscholar.CITATION,
            query, passage, f"{citing}/{fields[0]}", f"{cited}/{fields[1]}", lang,
            None if score is None else int(score), _new_year(year) if year else None)


class _JudgePaper(_CountsAndNotices):
    """(paper id, [merged fields or None, references]) -> everything keyed by a cited id, for the cap:

      (paper id, (None, its cited end, its (title, abstract) pair, its records and base fate))
          the cited end: the texts a citation pair takes from it as the cited paper, or why it
          cannot be one (a paper with no title, or no abstract where one is needed, is None: as
          good as missing); the pair as a tuple or None; records and base fate only while a pair
          may still use it (else its outcome is counted here)
      (cited id, (rank, paper id, ROW or LEGACY, its citing end)) per reference
          the citing end: (query text, year, whether it has a pair of its own), or why not

    A row seen twice is one edge and a duplicate_record; a legacy record's outbound citations are
    edges of no row (two records of a paper give two, as they always have)."""

    def __init__(self, config: semanticscholar.SemanticScholarConfig):
        self._config = config
        self._citations = config.citation_pairs != "none"
        self._fields = semanticscholar.citation_fields(config) if self._citations else ("", "")

    def process(self, kv):
        paper_id, (fields, refs) = kv
        citing_end = reasons.DROP_CITING_MISSING
        if fields is not None:
            citing_end = yield from self._judge(paper_id, semanticscholar.Paper(paper_id, *fields))
        rows, legacy = set(), []
        for cited, is_row in refs:
            if not is_row:
                legacy.append(cited)
            elif cited in rows:
                self.add(OUTCOME[reasons.DROP_DUPLICATE_RECORD])
            else:
                rows.add(cited)
        if not self._citations:  # no pairs from citations: a row is over_cap (the cap is 0 there)
            self.add(OUTCOME[reasons.DROP_OVER_CAP], len(rows))
            return
        rank = semanticscholar.cap_rank
        for cited in rows:
            yield (cited, (rank(paper_id, cited) - RANK_OFFSET, paper_id, ROW, citing_end))
        for cited in legacy:
            yield (cited, (rank(paper_id, cited) - RANK_OFFSET, paper_id, LEGACY, citing_end))

    def _judge(self, paper_id, paper):
        """Yields the paper's own value; returns its citing end."""
        verdicts = semanticscholar.paper_verdicts(paper, self._config)
        made = verdicts.title_abstract is None
        pair = None
        if made:
            pair = pair_row(semanticscholar.make_title_abstract_pair(paper, verdicts.title_abstract_lang))
        elif verdicts.title_abstract == reasons.DROP_NOT_AN_ABSTRACT:
            accounting.count_cleanup(f"abstract_refused_{not_an_abstract(paper.abstract)}")
        citing_end = cited_end = None
        if self._citations:
            citing_field, cited_field = self._fields
            citing_end = (getattr(paper, citing_field), paper.year, made) if verdicts.citing is None else (
                _end_refusal(verdicts.citing, reasons.DROP_CITING_MISSING))
            cited_end = (getattr(paper, cited_field), paper.citation_count, verdicts.cited_lang, made) \
                if verdicts.cited is None else _end_refusal(verdicts.cited, None)
        base = None
        if made or (self._citations and (verdicts.citing is None or verdicts.cited is None)):
            base = (RANK[reasons.DROP_DUPLICATE_PAIR if made else verdicts.title_abstract], paper.records)
        else:
            _record_outcomes(verdicts.title_abstract, paper.records, self.add)
        if pair is not None or base is not None or cited_end is not None:
            yield (paper_id, (None, cited_end, pair, base))
        return citing_end


def _end_refusal(reason: str, missing):
    """Why a paper cannot be an end: `missing` when it has no title (or no abstract where one is
    needed), as if it were absent; else the reason (non_english, not_an_abstract)."""
    return missing if reason in semanticscholar.MISSING_ENDPOINT else reason


def _edge_order(edge):
    return edge[:3]


class _CitedAndEdges(beam.CombineFn):
    """Per cited id: [its own value (None, cited end, pair, base) or None, the `cap` edges with the
    smallest (rank, citing id, ROW before LEGACY), rows seen]. At most 2 x cap edges are held,
    whatever the number of citations."""

    def __init__(self, cap: int):
        self._cap = cap

    def create_accumulator(self):
        return [None, [], 0]

    def _prune(self, edges):
        edges.sort(key=_edge_order)
        del edges[self._cap:]

    def add_input(self, acc, value):
        if value[0] is None:
            acc[0] = value
            return acc
        acc[1].append(value)
        acc[2] += value[2] == ROW
        if len(acc[1]) >= 2 * self._cap:
            self._prune(acc[1])
        return acc

    def merge_accumulators(self, accs):
        merged = [None, [], 0]
        for own, edges, rows in accs:
            if own is not None:
                merged[0] = own
            merged[1].extend(edges)
            merged[2] += rows
            if len(merged[1]) >= 2 * self._cap:
                self._prune(merged[1])
        return merged

    def extract_output(self, acc):
        self._prune(acc[1])
        return acc


class _Pairs(_CountsAndNotices):
    """(paper id, [its own value, capped edges citing it, rows seen]) -> its (title, abstract) pair and
    its citation pairs as candidates; a row outside the cap is over_cap, one to a missing or refused
    end gets that end's reason (the cited end's first). Its records and fate go on ("fates"), a citing
    paper that has no pair of its own is told duplicate_pair (used comes from the winners)."""

    def __init__(self, config: semanticscholar.SemanticScholarConfig):
        self._fields = semanticscholar.citation_fields(config) if config.citation_pairs != "none" else ("", "")

    def process(self, kv):
        cited, (own, edges, rows_seen) = kv
        _, end, pair, base = own if own is not None else (None, None, None, None)
        if pair is not None:
            yield (pair[0], (pair, 0))
        rows_in = sum(1 for e in edges if e[2] == ROW)
        self.add(OUTCOME[reasons.DROP_OVER_CAP], rows_seen - rows_in)
        paired = False
        if type(end) is not tuple:  # missing (None) or refused
            self.add(OUTCOME[reasons.DROP_CITED_MISSING if end is None else end], rows_in)
        else:
            passage, score, lang, cited_made = end
            for _, citing, order, citing_end in edges:
                if type(citing_end) is not tuple:
                    if order == ROW:
                        self.add(OUTCOME[citing_end])
                    continue
                query, year, citing_made = citing_end
                row = _citation_row(citing, query, year, cited, passage, score, self._fields, lang)
                yield (row[0], (row, 1 if order == ROW else 0))
                paired = True
                if not citing_made:
                    yield from self.notice(citing, DUPLICATE_RANK)
        if base is not None:
            yield beam.pvalue.TaggedOutput(FATES, (cited, (min(base[0], DUPLICATE_RANK) if paired else base[0],
                                                           base[1])))


_QUERY_ID, _PASSAGE_ID = 5, 6  # in pipelines.accounting.pair_row's order (schemas.pairs.PAIR_COLUMNS)


class _OnePairPerId(beam.CombineFn):
    """Per pair_id: (the pair with the smallest (query_id, passage_id), whether a citation row stands
    behind it (candidates equal to it are the same edge twice: a row and a legacy record), the rows
    behind all candidates). O(1) memory whatever the number of copies."""

    def create_accumulator(self):
        return (None, 0, 0)

    def add_input(self, acc, candidate):
        return self._merge(acc, (candidate[0], candidate[1], candidate[1]))

    def _merge(self, a, b):
        if a[0] is None:
            return b
        if b[0] is None:
            return a
        rank_a, rank_b = (a[0][_QUERY_ID], a[0][_PASSAGE_ID]), (b[0][_QUERY_ID], b[0][_PASSAGE_ID])
        if rank_a == rank_b:
            return (a[0], a[1] | b[1], a[2] + b[2])
        best = a if rank_a < rank_b else b
        return (best[0], best[1], a[2] + b[2])

    def merge_accumulators(self, accs):
        merged = (None, 0, 0)
        for acc in accs:
            merged = self._merge(merged, acc)
        return merged

    def extract_output(self, acc):
        return acc


class _Winners(_CountsAndNotices):
    """(pair_id, (kept pair, a row behind it, rows behind all)) -> the pair (a pair_row tuple); its rows' outcomes
    (used for the kept one, duplicate_pair for the others); "used" to the papers it joins."""

    def process(self, kv):
        _, (row, kept_row, rows) = kv
        self.add(OUTCOME[reasons.USED], kept_row)
        self.add(OUTCOME[reasons.DROP_DUPLICATE_PAIR], rows - kept_row)
        query_paper, passage_paper = row[_QUERY_ID].split("/")[0], row[_PASSAGE_ID].split("/")[0]
        yield from self.notice(query_paper, USED_RANK)
        if passage_paper != query_paper:
            yield from self.notice(passage_paper, USED_RANK)
        yield row


class _BestFate(beam.CombineFn):
    """Per paper id: (the best fate rank told, its records ((kind, count), ...); () from a notice)."""

    def create_accumulator(self):
        return (len(FATE_PRIORITY), ())

    def add_input(self, acc, fate):
        return (min(acc[0], fate[0]), acc[1] or fate[1])

    def merge_accumulators(self, accs):
        rank, records = len(FATE_PRIORITY), ()
        for r, recs in accs:
            rank, records = min(rank, r), records or recs
        return (rank, records)

    def extract_output(self, acc):
        return acc


class _PaperOutcomes(_CountsAndNotices):
    def process(self, kv):
        rank, records = kv[1]
        if records:
            _record_outcomes(FATE_PRIORITY[rank], records, self.add)
        return ()


class ExtractSemanticScholarPairs(beam.PTransform):
    """Typed records (or the read's dict) -> {"pair_rows": pairs as pipelines.accounting.pair_row tuples,
    "outcomes"}: every record gets exactly one outcome."""

    def __init__(self, config: semanticscholar.SemanticScholarConfig):
        super().__init__()
        self._config = config

    def expand(self, records):
        config = self._config
        if isinstance(records, dict):  # the job: split_record ran inside the read batch
            keyed, early = records["records"], records[OUTCOMES]
        else:  # typed records (tests)
            split = records | "Split" >> beam.ParDo(_Split()).with_output_types(Any).with_outputs(
                OUTCOMES, main="keyed")
            keyed, early = split.keyed, split[OUTCOMES]
        judged = (
            keyed
            | "PerPaper" >> beam.CombinePerKey(_PaperAndReferences())
            | "JudgePapers" >> beam.ParDo(_JudgePaper(config)).with_outputs(OUTCOMES, main="per_cited")
        )
        candidates = (
            judged.per_cited
            | "PerCited" >> beam.CombinePerKey(_CitedAndEdges(config.max_citations_per_paper))
            | "Pairs" >> beam.ParDo(_Pairs(config)).with_outputs(FATES, OUTCOMES, main="candidates")
        )
        winners = (
            candidates.candidates
            | "OnePairPerId" >> beam.CombinePerKey(_OnePairPerId())
            | "Winners" >> beam.ParDo(_Winners()).with_outputs(FATES, OUTCOMES, main="pairs")
        )
        papers = (
            (candidates[FATES], winners[FATES])
            | "AllFates" >> beam.Flatten()
            | "BestFatePerPaper" >> beam.CombinePerKey(_BestFate())
            | "PaperOutcomes" >> beam.ParDo(_PaperOutcomes()).with_outputs(OUTCOMES)
        )
        outcomes = (early, judged[OUTCOMES], candidates[OUTCOMES], winners[OUTCOMES], papers[OUTCOMES])
        return {"pair_rows": winners.pairs, "outcomes": outcomes | "Outcomes" >> beam.Flatten()}


class _Parser:
    def __init__(self, config):
        self._config = config

    def __call__(self, raw: bytes, _path: str):
        return semanticscholar.decode_line(raw, self._config)


JOB = job.SourceJob(
    name=semanticscholar.SOURCE,
    options_class=SemanticScholarOptions,
    reader=lambda config: LineFileReader(semanticscholar.SOURCE, config.max_line_bytes),
    parse=_Parser,
    extract=ExtractSemanticScholarPairs,
    decide=_decide,
)


build_pipeline, run, main = job.entry_points(JOB)


if __name__ == "__main__":
    # Run the job of the module imported under its own name: a class defined here then pickles as
    # pipelines.semanticscholar.X, which SDK workers (multi-processing, Dataflow) import; __main__.X they cannot.
    from pipelines import semanticscholar as job_module

    job_module.main()
