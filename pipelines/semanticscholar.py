"""Semantic Scholar pipeline: (title, abstract) and citation pairs from S2AG datasets and S2ORC 2020.

    python -m pipelines.semanticscholar --input 'dumps/s2ag/*/*.jsonl.gz' --output out/ \
        [--citation_pairs title-title] [--max_citations_per_paper 50]

On the shared job (pipelines.job): JSON lines (any of the five record kinds, told apart by their
fields), split by kind inside the read batch (split_record: unresolved and self-citations are counts
per batch) -> ExtractSemanticScholarPairs, papers shuffled packed (a plain tuple of fields,
pipelines.transforms.pack):

    parts ---merge per paper id (a combiner)---> papers --rules--> (title, abstract) pairs
    citation rows + legacy outbound citations -> one copy per edge -> per cited paper the
        --max_citations_per_paper edges with the smallest hash (Top.PerKey, a combiner)
        -> join the cited paper (by cited id) -> join the citing paper (by citing id) -> citation pairs
    all pairs -> dedup by pair_id

No worker holds a paper's whole citing list: the cap is a combiner, and each join sees at most the
cap's edges per cited paper and a paper's own references per citing paper. Accounting: every
record of a paper (papers, abstracts, s2orc, legacy) ends as the paper does (used, or why not;
a second record of the same kind is duplicate_record); every citation row as used or why not.
"""

from typing import Any, List, Tuple

import apache_beam as beam

from pipelines import accounting, job
from pipelines.options import source_options
from pipelines.read import OUTCOMES, Counted, LineFileReader
from pipelines.transforms import OneCopyPerKey, dropped_outcome, pack, unpack
from schemas import reasons
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
Edge = Tuple[str, str, str]  # (citing id, cited id, citation-row key; "" for a legacy record's own list)


def paper_key(paper_id: str) -> str:
    return f"paper:{paper_id}"


class _MergePapers(beam.CombineFn):
    """Papers (packed, pipelines.transforms.pack) merged per paper id; the accumulator is packed too,
    since it is what crosses the shuffle."""

    def create_accumulator(self):
        return None

    def add_input(self, acc, packed):
        return packed if acc is None else pack(semanticscholar.merge_parts(unpack(acc), unpack(packed)))

    def merge_accumulators(self, accs):
        merged = None
        for acc in accs:
            if acc is not None:
                merged = self.add_input(merged, acc)
        return merged

    def extract_output(self, acc):
        return acc


ROWS, EDGES = "rows", "edges"


def split_record(record):
    """Inside the read batch: paper parts go on as (paper id, packed paper); citation rows as rows
    (unresolved and self-citations end here, counted per batch); a legacy record's outbound citations
    become edges of no row of their own."""
    if isinstance(record, semanticscholar.Citation):
        if record.cited is None:
            yield Counted(accounting.dropped(reasons.DROP_CITED_MISSING))
        elif record.cited == record.citing:
            yield Counted(accounting.dropped(reasons.DROP_SELF_CITATION))
        else:
            yield beam.pvalue.TaggedOutput(ROWS, record)
        return
    yield (record.paper_id, pack(semanticscholar.paper_of(record)))
    for cited in record.cites:
        if cited != record.paper_id:
            yield beam.pvalue.TaggedOutput(EDGES, (record.paper_id, cited, ""))


def _decide(_config):
    return split_record


class _Split(beam.DoFn):
    """split_record as a DoFn, for typed records given to ExtractSemanticScholarPairs directly (tests)."""

    def process(self, record):
        for out in split_record(record):
            yield dropped_outcome(out.outcome.split("/", 1)[1]) if type(out) is Counted else out


def _lang(text: str, config: semanticscholar.SemanticScholarConfig) -> str:
    if config.english_only:
        return "en"
    from sources.text.langid import detect_language

    return detect_language(text)[0]


class _TitleAbstract(beam.DoFn):
    """Paper -> its (title, abstract) pair, or the reason it has none (as the paper's fate)."""

    def __init__(self, config: semanticscholar.SemanticScholarConfig):
        self._config = config

    def process(self, kv):
        paper_id, paper = kv[0], unpack(kv[1])
        yield beam.pvalue.TaggedOutput("events", (paper_key(paper_id), ("records", paper.records)))
        if not self._config.title_abstract_pairs:
            yield beam.pvalue.TaggedOutput("events", (paper_key(paper_id), ("fate", reasons.DROP_NO_PAIR)))
            return
        reason = semanticscholar.title_abstract_drop(paper, self._config)
        if reason is not None:
            if reason == reasons.DROP_NOT_AN_ABSTRACT:
                accounting.count_cleanup(f"abstract_refused_{not_an_abstract(paper.abstract)}")
            yield beam.pvalue.TaggedOutput("events", (paper_key(paper_id), ("fate", reason)))
            return
        yield beam.pvalue.TaggedOutput("events", (paper_key(paper_id), ("fate", reasons.DROP_NO_PAIR)))
        yield semanticscholar.make_title_abstract_pair(paper, _lang(paper.abstract, self._config))


def _row_events(row: semanticscholar.Citation):
    """A citation row that reaches the cap: over_cap unless a pair makes better use of it."""
    yield (row.key, ("records", (("citations", 1),)))
    yield (row.key, ("fate", reasons.DROP_OVER_CAP))


def _endpoint_fate(reason: str, missing: str) -> str:
    """A row's fate when one end cannot be used: `missing` when that paper (or the field) is absent,
    else why the field was refused (non_english, not_an_abstract)."""
    return missing if reason in semanticscholar.MISSING_ENDPOINT else reason


def _with_cited(kv, field: str, config):
    """(cited id, {paper, edges}) -> (citing id, (edge, cited paper)); a cited paper that is missing
    or refused is the row's fate."""
    _, groups = kv
    papers = list(groups["paper"])
    paper = unpack(papers[0]) if papers else None
    reason = semanticscholar.endpoint_drop(paper, field, config)
    for capped in groups["edges"]:
        for edge in capped:
            if reason is None:
                yield (edge[0], (edge, papers[0]))
            elif edge[2]:
                yield beam.pvalue.TaggedOutput(
                    "events", (edge[2], ("fate", _endpoint_fate(reason, reasons.DROP_CITED_MISSING))))


def _citation_pairs(kv, field: str, config):
    """(citing id, {paper, edges}) -> citation pairs; a citing paper that is missing or refused is the row's fate."""
    _, groups = kv
    papers = list(groups["paper"])
    paper = unpack(papers[0]) if papers else None
    reason = semanticscholar.endpoint_drop(paper, field, config)
    for edge, cited in groups["edges"]:
        cited = unpack(cited)
        if reason is not None:
            if edge[2]:
                yield beam.pvalue.TaggedOutput(
                    "events", (edge[2], ("fate", _endpoint_fate(reason, reasons.DROP_CITING_MISSING))))
            continue
        yield semanticscholar.make_citation_pair(paper, cited, config, _lang(cited.abstract or cited.title, config))


def _pair_events(pair, fate: str):
    """The records behind a pair: its papers, and for a citation the row (when it came from one)."""
    query_paper, passage_paper = pair["query_id"].split("/")[0], pair["passage_id"].split("/")[0]
    yield (paper_key(query_paper), ("fate", fate))
    if passage_paper != query_paper:
        yield (paper_key(passage_paper), ("fate", fate))
    if pair["subsource"] == semanticscholar.CITATION:
        yield (f"citation:{query_paper}>{passage_paper}", ("fate", fate))


class _Outcomes(beam.CombineFn):
    """Per record key: the best fate, and the records it stands for ((kind, count) pairs). A key
    seen without records (a legacy record's citation) stands for none."""

    def __init__(self, priority):
        self._rank = {fate: i for i, fate in enumerate(priority)}

    def create_accumulator(self):
        return (None, ())

    def add_input(self, acc, event):
        return self.merge_accumulators([acc, (event[1], ()) if event[0] == "fate" else (None, event[1])])

    def merge_accumulators(self, accs):
        fate, records = None, ()
        for f, r in accs:
            if f is not None and (fate is None or self._rank[f] < self._rank[fate]):
                fate = f
            records = records or r
        return (fate, records)

    def extract_output(self, acc):
        return acc


def _to_outcomes(kv):
    _, (fate, records) = kv
    for _, count in records:
        outcome = reasons.USED if fate == reasons.USED else accounting.dropped(fate)
        accounting.count(outcome)
        yield outcome
        for _ in range(count - 1):
            accounting.count(accounting.dropped(reasons.DROP_DUPLICATE_RECORD))
            yield accounting.dropped(reasons.DROP_DUPLICATE_RECORD)


class ExtractSemanticScholarPairs(beam.PTransform):
    """Typed records -> {"pairs", "outcomes"}: every record gets exactly one outcome."""

    def __init__(self, config: semanticscholar.SemanticScholarConfig):
        super().__init__()
        self._config = config

    def expand(self, records):
        config = self._config
        if isinstance(records, dict):  # the job: split_record ran inside the read batch
            parts, rows_in, legacy_edges, early = records["records"], records[ROWS], records[EDGES], records[OUTCOMES]
        else:  # typed records (tests)
            split = records | "Split" >> beam.ParDo(_Split()).with_output_types(Any).with_outputs(
                ROWS, EDGES, "outcomes", main="parts")
            parts, rows_in, legacy_edges, early = split.parts, split[ROWS], split[EDGES], split.outcomes
        papers = parts | "MergePerPaper" >> beam.CombinePerKey(_MergePapers())
        title_abstract = papers | "TitleAbstract" >> beam.ParDo(_TitleAbstract(config)).with_outputs(
            "events", main="pairs")
        rows = rows_in | "OneCopyPerRow" >> OneCopyPerKey(lambda row: row.key, lambda row: row.key)
        candidates: List = [title_abstract.pairs]
        events: List = [title_abstract.events, rows.records | "RowEvents" >> beam.FlatMap(_row_events)]
        if config.citation_pairs != "none":
            citing_field, cited_field = semanticscholar.citation_fields(config)
            edges = (
                (rows.records | "RowEdges" >> beam.Map(lambda row: (row.citing, row.cited, row.key)), legacy_edges)
                | "AllEdges" >> beam.Flatten()
                | "ByCited" >> beam.Map(lambda edge: (edge[1], edge))
                | "CapPerCited"
                >> beam.combiners.Top.PerKey(
                    config.max_citations_per_paper, key=lambda edge: -semanticscholar.cap_rank(edge[0], edge[1])
                )
            )
            cited = (
                {"paper": papers, "edges": edges} | "JoinCited" >> beam.CoGroupByKey()
                | "WithCited" >> beam.FlatMap(_with_cited, cited_field, config).with_outputs("events", main="edges")
            )
            citations = (
                {"paper": papers, "edges": cited.edges} | "JoinCiting" >> beam.CoGroupByKey()
                | "CitationPairs" >> beam.FlatMap(_citation_pairs, citing_field, config).with_outputs(
                    "events", main="pairs")
            )
            candidates.append(citations.pairs)
            events += [cited.events, citations.events]
        all_pairs = tuple(candidates) | "AllPairs" >> beam.Flatten()
        deduped = all_pairs | "DedupPairs" >> accounting.DedupPairs()
        events += [all_pairs | "CandidateEvents" >> beam.FlatMap(_pair_events, reasons.DROP_DUPLICATE_PAIR),
                   deduped["pairs"] | "UsedEvents" >> beam.FlatMap(_pair_events, reasons.USED)]
        outcomes = (
            tuple(events)
            | "AllEvents" >> beam.Flatten()
            | "BestFate" >> beam.CombinePerKey(_Outcomes(FATE_PRIORITY))
            | "ToOutcomes" >> beam.FlatMap(_to_outcomes)
        )
        return {"pairs": deduped["pairs"],
                "outcomes": (early, rows.outcomes, outcomes) | "Outcomes" >> beam.Flatten()}


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
    decide_tags=(ROWS, EDGES),
)


build_pipeline, run, main = job.entry_points(JOB)


if __name__ == "__main__":
    main()
