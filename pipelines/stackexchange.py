"""Stack Exchange pipeline: per-site dumps -> (question title, accepted or upvoted answer) pairs.

    python -m pipelines.stackexchange --input 'dumps/*.7z' --input 'extracted/*/Posts.xml' --output out/

Inputs: ``<site>.7z`` as published (Posts.xml is streamed out of it), the split form
``stackoverflow.com-Posts.7z``, or an extracted Posts.xml (cut into byte ranges when larger
than --split_mb, so one huge file is read by many workers). The site comes from the path
(sources.stackexchange.site_from_path).

On the shared job (pipelines.job): safe row lines (a file with a DTD is refused whole) -> typed
posts -> ExtractStackExchangePairs: by post type -> answers joined by answer id to the
AcceptedAnswerId claims of questions (at most a copy or two and a claim per key, never hot) ->
filters -> per question its top-N upvoted answers (Top.PerKey) and its accepted answer, joined
with the question -> pairs -> dedup by pair_id. Records in no pair get their reason
(question_missing, parent_dropped, not_selected_answer, no_answer) through per-record fates.
"""

import dataclasses
import itertools
from typing import Iterator

import apache_beam as beam

from pipelines import accounting, job
from pipelines.options import source_options
from pipelines.read import Raw, UnitReader, lines_of, open_unit
from pipelines.splits import ReadUnit, is_uncompressed
from pipelines.transforms import FilterRecords, OneCopyPerKey, TopRepliesPerParent, dropped_outcome
from schemas import reasons
from sources import stackexchange
from sources.errors import RejectRecord
from sources.formats.line_ranges import iter_range_lines
from sources.formats.readers import RawLine, TruncatedTail, iter_lines
from sources.formats.sevenzip import SevenZipMemberReader
from sources.formats.stackexchange_xml import (PROLOG_MAX_BYTES, PROLOG_MAX_LINES, check_prolog, is_row_line,
                                               is_structure_line, prolog_of, strip_line)

POSTS_MEMBER = "Posts.xml"
FATE_PRIORITY = [reasons.USED, reasons.DROP_DUPLICATE_PAIR, reasons.DROP_PARENT_DROPPED, reasons.DROP_QUESTION_MISSING,
                 reasons.DROP_NOT_SELECTED_ANSWER, reasons.DROP_NO_ANSWER]

StackExchangeOptions = source_options(stackexchange.SOURCE, stackexchange.StackExchangeConfig)


def is_archive(path: str) -> bool:
    return path.lower().endswith(".7z")


class ReadPostsXml(UnitReader):
    """A Posts.xml (whole, a byte range of it, or inside a .7z) -> its `<row>` lines as raw records.

    The prolog is checked first (a DTD or entity declaration refuses the file: billion laughs,
    XXE); structure lines (declaration, <posts>, </posts>, blank) are no records; any other line
    is, and the row parser rejects what is not a row.
    """

    def __init__(self):
        super().__init__(stackexchange.SOURCE)

    def raw_records(self, unit: ReadUnit, stack) -> Iterator:
        if is_archive(unit.path):  # py7zr seeks around the archive: how far it read says nothing
            handle = stack.enter_context(open_unit(unit.path))
        else:
            handle = self.open(unit, stack)
        if unit.is_range:
            with open_unit(unit.path) as head:
                check_prolog(prolog_of(head.read(PROLOG_MAX_BYTES)))
            lines = (item if isinstance(item, TruncatedTail) else Raw(None, f"at byte {item[0]}: ", item[1])
                     for item in iter_range_lines(handle, unit.start, unit.end))
        else:
            if is_archive(unit.path):
                handle = stack.enter_context(SevenZipMemberReader(handle, POSTS_MEMBER))
            lines = _checked_head(iter_lines(handle, unit.path))
        return (item for item in lines if not (isinstance(item, Raw) and is_structure_line(strip_line(item.data))))


def _checked_head(items: Iterator) -> Iterator:
    """Read up to the first row, check the prolog before it (RejectRecord refuses the file), then go on."""
    head = []
    for item in items:
        head.append(item)
        if len(head) >= PROLOG_MAX_LINES or (isinstance(item, RawLine) and is_row_line(strip_line(item.data))):
            break
    prolog = b"\n".join(i.data for i in head if isinstance(i, RawLine) and not is_row_line(strip_line(i.data)))
    try:
        check_prolog(prolog)
    except RejectRecord as exc:
        raise RejectRecord(exc.reason, exc.detail, prolog) from None
    return lines_of(itertools.chain(head, items))


class _Parser:
    """Picklable parse callable bound to a config: (row line, path) -> typed post."""

    def __init__(self, config: stackexchange.StackExchangeConfig):
        self._config = config

    def __call__(self, raw: bytes, path: str) -> stackexchange.StackExchangePost:
        return stackexchange.parse_row_line(raw, stackexchange.site_from_path(path), self._config)


class _Filter:
    def __init__(self, config: stackexchange.StackExchangeConfig):
        self._config = config

    def __call__(self, post: stackexchange.StackExchangePost):
        return stackexchange.drop_reason(post, self._config)


class SplitByPostType(beam.DoFn):
    """Questions and answers go on; every other post type is dropped here (tag wikis, ...)."""

    def process(self, post: stackexchange.StackExchangePost):
        if post.is_question:
            yield beam.pvalue.TaggedOutput("questions", post)
        elif post.is_answer:
            yield beam.pvalue.TaggedOutput("answers", post)
        else:
            yield dropped_outcome(reasons.DROP_OTHER_POST_TYPE)


class ResolveAnswer(beam.DoFn):
    """(answer key, {copies, claims}) -> one answer flagged accepted or not; extra copies as outcomes.

    `claims` are the keys of questions whose AcceptedAnswerId names this answer; it counts as
    accepted when its own question is among them.
    """

    def process(self, kv):
        _, groups = kv
        copies = list(groups["copies"])
        if not copies:  # a claim for an answer not in the input
            return
        best = max(copies, key=stackexchange.copy_rank_key)
        for _ in copies[1:]:
            yield dropped_outcome(reasons.DROP_DUPLICATE_RECORD)
        yield dataclasses.replace(best, accepted=best.question_key in set(groups["claims"]))


def _without_language_sample(question: stackexchange.StackExchangePost) -> stackexchange.StackExchangePost:
    return dataclasses.replace(question, language_sample="")


def _pairs_of(thread, config: stackexchange.StackExchangeConfig):
    question, accepted, best = thread
    for answer in stackexchange.select_answers(question, {a.post_id: a for a in accepted}, best, config):
        yield stackexchange.make_stackexchange_pair(question, answer, stackexchange.pair_language(answer.text, config))


class ExtractStackExchangePairs(beam.PTransform):
    """Typed posts -> {"pairs", "outcomes"}: every post gets exactly one outcome."""

    def __init__(self, config: stackexchange.StackExchangeConfig):
        super().__init__()
        self._config = config

    def expand(self, posts):
        config = self._config
        by_type = posts | "ByPostType" >> beam.ParDo(SplitByPostType()).with_outputs(
            "questions", "answers", "outcomes")
        questions = by_type.questions | "FilterQuestions" >> beam.ParDo(
            FilterRecords(_Filter(config), lambda q: q.key, _without_language_sample)).with_outputs(
            "outcomes", "dropped_keys", main="kept")
        unique = questions.kept | "OneCopyPerQuestion" >> OneCopyPerKey(lambda q: q.key, stackexchange.copy_rank_key)

        # Which answer is accepted is known from the question row: join by answer id first.
        claims = (
            by_type.questions
            | "WithAcceptedAnswer" >> beam.Filter(lambda q: q.accepted_answer_id is not None)
            | "ClaimByAnswerKey" >> beam.Map(lambda q: (q.accepted_key, q.key))
        )
        answers = (
            {"copies": by_type.answers | "KeyByAnswer" >> beam.Map(lambda a: (a.key, a)), "claims": claims}
            | "JoinAcceptedClaims" >> beam.CoGroupByKey()
            | "ResolveAnswers" >> beam.ParDo(ResolveAnswer()).with_outputs("outcomes", main="answers")
        )
        kept_answers = answers.answers | "FilterAnswers" >> beam.ParDo(
            FilterRecords(_Filter(config), lambda a: a.key)).with_outputs("outcomes", "dropped_keys", main="kept")

        threads = {
            "parents": unique.records,
            "replies": kept_answers.kept,
            "pinned": kept_answers.kept | "Accepted" >> beam.Filter(lambda a: a.accepted),
            "dropped_keys": questions.dropped_keys,
        } | "BestAnswers" >> TopRepliesPerParent(
            top_n=config.top_n,
            rank=stackexchange.answer_rank_key,
            parent_key=lambda q: q.key,
            reply_key=lambda a: a.key,
            parent_of=lambda a: a.question_key,
            eligible=lambda a, m=config.min_score: a.score >= m,
            missing_fate=reasons.DROP_QUESTION_MISSING,
        )
        deduped = (
            threads.threads | "MakePairs" >> beam.FlatMap(_pairs_of, config) | "DedupPairs" >> accounting.DedupPairs()
        )

        default_fates = (
            (unique.records | "QuestionDefault" >> beam.Map(lambda q: (q.key, reasons.DROP_NO_ANSWER)),
             kept_answers.kept | "AnswerDefault" >> beam.Map(lambda a: (a.key, reasons.DROP_NOT_SELECTED_ANSWER)))
            | "Defaults" >> beam.Flatten()
        )
        resolved = (
            (default_fates, threads.fates, deduped["fates"])
            | "AllFates" >> beam.Flatten()
            | "Resolve" >> accounting.ResolveFates(FATE_PRIORITY)
        )
        outcomes = (
            (by_type.outcomes, questions.outcomes, unique.outcomes, answers.outcomes, kept_answers.outcomes,
             resolved)
            | "Outcomes" >> beam.Flatten()
        )
        return {"pairs": deduped["pairs"], "outcomes": outcomes}


def _sites(inputs, _config) -> dict:
    return {"sites": {str(i["path"]): stackexchange.site_from_path(str(i["path"])) for i in inputs}}


JOB = job.SourceJob(
    name=stackexchange.SOURCE,
    options_class=StackExchangeOptions,
    reader=lambda config: ReadPostsXml(),
    parse=_Parser,
    extract=ExtractStackExchangePairs,
    splittable=is_uncompressed,
    split_bytes=lambda config: config.split_mb << 20,
    manifest_extra=_sites,
)


build_pipeline, run, main = job.entry_points(JOB)


if __name__ == "__main__":
    main()
