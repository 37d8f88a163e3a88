"""Stack Exchange pipeline: per-site dumps -> (question title, accepted or upvoted answer) pairs.

    python -m pipelines.stackexchange --input 'dumps/*.7z' --input 'extracted/*/Posts.xml' --output out/

Inputs: ``<site>.7z`` as published (Posts.xml is streamed out of it), the split form
``stackoverflow.com-Posts.7z``, or an extracted Posts.xml (cut into byte ranges when larger
than --split_mb, so one huge file is read by many workers). The site comes from the path
(sources.stackexchange.site_from_path).

Graph: read units -> safe row parse (rejects; a file with a DTD is refused whole) -> by post type
-> answers joined by answer id to the AcceptedAnswerId claims of questions (CoGroupByKey keyed
by answer id: at most a copy or two and a claim per key, never hot) -> one copy per answer,
filters -> per question one combiner holds the question, its accepted answer and its top-N
answers (a question with thousands of answers never sits in memory) -> pairs -> dedup by
pair_id -> versioned sink. Records that end in no pair get their reason (question_missing,
parent_dropped, not_selected_answer, no_answer) through per-record fate resolution.
"""

import contextlib
import dataclasses
import heapq
import itertools
import logging
from typing import Iterator, List, Optional

import apache_beam as beam
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from pipelines import accounting as A
from pipelines.inputs import RECORDS_READ, REJECTS, expand_inputs, reject_output
from pipelines.job import run_source_job, write_source_version
from pipelines.options import CcpairsOptions
from pipelines.sink import prepare_version_dir, version_dir
from pipelines.splits import DEFAULT_SPLIT_BYTES, ReadUnit, ReadUnits, plan_read_units
from schemas import reasons as R
from sources import stackexchange as S
from sources.errors import RejectRecord
from sources.line_ranges import iter_range_lines
from sources.readers import RawLine, TruncatedTail, iter_lines
from sources.sevenzip import SevenZipMemberReader
from sources.stackexchange_xml import (PROLOG_MAX_BYTES, PROLOG_MAX_LINES, check_prolog, is_row_line,
                                       is_structure_line, prolog_of, strip_line)

POSTS_MEMBER = "Posts.xml"
FATE_PRIORITY = [R.USED, R.DROP_DUPLICATE_PAIR, R.DROP_PARENT_DROPPED, R.DROP_QUESTION_MISSING,
                 R.DROP_NOT_SELECTED_ANSWER, R.DROP_NO_ANSWER]


class StackExchangeOptions(CcpairsOptions):
    @classmethod
    def _add_argparse_args(cls, parser):
        d = S.StackExchangeConfig()
        parser.add_argument("--top_n", type=int, default=d.top_n, help="answers kept per question")
        parser.add_argument("--accepted_min_score", type=int, default=d.accepted_min_score,
                            help="the accepted answer is picked if its score is at least this")
        parser.add_argument("--min_score", type=int, default=d.min_score,
                            help="score an answer needs otherwise ('upvoted')")
        parser.add_argument("--include_question_body", action="store_true", default=d.include_question_body,
                            help="query = title + body (default: title only)")
        parser.add_argument("--max_passage_chars", type=int, default=d.max_passage_chars)
        parser.add_argument("--min_answer_chars", type=int, default=d.min_answer_chars)
        parser.add_argument("--min_question_chars", type=int, default=d.min_question_chars)
        parser.add_argument("--max_query_chars", type=int, default=d.max_query_chars)
        parser.add_argument("--any_language", action="store_true", default=False,
                            help="keep non-English text (the pair's lang column says which)")
        parser.add_argument("--split_mb", type=int, default=DEFAULT_SPLIT_BYTES >> 20,
                            help="cut an extracted Posts.xml into ranges of this many MiB (0: never)")


def config_from_options(options) -> S.StackExchangeConfig:
    o = options.view_as(StackExchangeOptions)
    return S.StackExchangeConfig(
        top_n=o.top_n, accepted_min_score=o.accepted_min_score, min_score=o.min_score,
        include_question_body=o.include_question_body, max_passage_chars=o.max_passage_chars,
        min_answer_chars=o.min_answer_chars, min_question_chars=o.min_question_chars,
        max_query_chars=o.max_query_chars, english_only=not o.any_language)


def is_archive(path: str) -> bool:
    return path.lower().endswith(".7z")


def _open(path: str):
    return FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED)


@dataclasses.dataclass(frozen=True)
class _RangeLine:
    offset: int
    data: bytes


class ReadPosts(beam.DoFn):
    """ReadUnit -> typed posts (main output), rejects, and one records_read count per unit.

    Records are `<row>` lines and any other line that is not structure (declaration, <posts>,
    </posts>, blank): those are rejected. A file refused whole (unreadable, or a DTD in its
    prolog) counts as one record read and one reject, spoken for by its range 0.
    """

    def __init__(self, config: S.StackExchangeConfig):
        self._config = config

    def _reject(self, path, position, reason, raw, detail):
        return reject_output(S.SOURCE, path, position, reason, raw, detail)

    def _refuse_file(self, unit: ReadUnit, reason: str, raw: bytes, detail: str):
        if unit.index == 0:
            yield self._reject(unit.path, None, reason, raw, detail)
            A.count(RECORDS_READ)
            yield beam.pvalue.TaggedOutput(RECORDS_READ, 1)

    def process(self, unit: ReadUnit):
        with contextlib.ExitStack() as stack:
            prolog = b""
            try:
                lines = self._open_lines(unit, stack)
                lines, prolog = self._prolog(unit, lines)
                check_prolog(prolog)
            except RejectRecord as exc:
                yield from self._refuse_file(unit, exc.reason, prolog, exc.detail)
                return
            except Exception as exc:  # noqa: BLE001 - any failure to open is this file's reject
                yield from self._refuse_file(unit, R.REJECT_UNREADABLE_FILE, b"", f"{type(exc).__name__}: {exc}")
                return
            yield from self._records(unit, lines)

    def _open_lines(self, unit: ReadUnit, stack: contextlib.ExitStack) -> Iterator:
        handle = stack.enter_context(_open(unit.path))
        if unit.is_range:
            return (_RangeLine(offset, data) for offset, data in iter_range_lines(handle, unit.start, unit.end))
        if is_archive(unit.path):
            reader = stack.enter_context(SevenZipMemberReader(handle, POSTS_MEMBER))
            return iter_lines(reader, POSTS_MEMBER)
        return iter_lines(handle, unit.path)

    def _prolog(self, unit: ReadUnit, lines: Iterator):
        """(lines, the bytes before the first row): a range reads its file's head on its own."""
        if unit.is_range:
            with _open(unit.path) as head:
                return lines, prolog_of(head.read(PROLOG_MAX_BYTES))
        lines = iter(lines)
        head = []
        for item in lines:
            head.append(item)
            if len(head) >= PROLOG_MAX_LINES or (isinstance(item, RawLine) and is_row_line(strip_line(item.data))):
                break
        prolog = b"\n".join(i.data for i in head if isinstance(i, RawLine) and not is_row_line(strip_line(i.data)))
        return itertools.chain(head, lines), prolog

    def _records(self, unit: ReadUnit, lines: Iterator):
        path, seen = unit.path, 0
        site = S.site_from_path(path)
        try:
            for item in lines:
                if isinstance(item, TruncatedTail):
                    seen += 1
                    yield self._reject(path, item.position, R.REJECT_TRUNCATED_INPUT, item.data, item.detail)
                    continue
                if is_structure_line(strip_line(item.data)):
                    continue
                seen += 1
                position, where = ((item.position, "") if isinstance(item, RawLine)
                                   else (None, f"at byte {item.offset}: "))
                try:
                    yield S.parse_row_line(item.data, site, self._config)
                except RejectRecord as exc:
                    yield self._reject(path, position, exc.reason, item.data, where + exc.detail)
                except Exception as exc:  # noqa: BLE001 - one odd record must not kill the job
                    yield self._reject(path, position, R.REJECT_PARSE_ERROR, item.data,
                                       f"{where}{type(exc).__name__}: {exc}")
        except OSError as exc:  # a range read failing midway (whole files report a truncated tail)
            seen += 1
            yield self._reject(path, None, R.REJECT_TRUNCATED_INPUT, b"", f"{type(exc).__name__}: {exc}")
        A.count(RECORDS_READ, seen)
        yield beam.pvalue.TaggedOutput(RECORDS_READ, seen)


class ReadStackExchangePosts(beam.PTransform):
    """[ReadUnit] -> {"records": typed posts, "rejects", "records_read"}."""

    def __init__(self, units, config: S.StackExchangeConfig):
        super().__init__()
        self._units, self._config = list(units), config

    def expand(self, pbegin):
        return pbegin | "ReadUnits" >> ReadUnits(self._units, ReadPosts(self._config), [REJECTS, RECORDS_READ])


def _outcome(reason: str):
    outcome = A.dropped(reason)
    A.count(outcome)
    return beam.pvalue.TaggedOutput("outcomes", outcome)


class SplitByPostType(beam.DoFn):
    """Questions and answers go on; every other post type is dropped here (tag wikis, ...)."""

    def process(self, post: S.StackExchangePost):
        if post.is_question:
            yield beam.pvalue.TaggedOutput("questions", post)
        elif post.is_answer:
            yield beam.pvalue.TaggedOutput("answers", post)
        else:
            yield _outcome(R.DROP_OTHER_POST_TYPE)


class FilterQuestions(beam.DoFn):
    """Kept questions (without their language sample, so less is shuffled); dropped ones as outcomes and keys."""

    def __init__(self, config: S.StackExchangeConfig):
        self._config = config

    def process(self, question: S.StackExchangePost):
        reason = S.drop_reason(question, self._config)
        if reason is None:
            yield dataclasses.replace(question, language_sample="")
            return
        yield _outcome(reason)
        yield beam.pvalue.TaggedOutput("dropped_keys", question.key)


class ResolveAnswer(beam.DoFn):
    """(answer key, {copies, claims}) -> one kept answer flagged accepted or not; extra copies and drops as outcomes.

    `claims` are the keys of questions whose AcceptedAnswerId names this answer; it counts as
    accepted when its own question is among them.
    """

    def __init__(self, config: S.StackExchangeConfig):
        self._config = config

    def process(self, kv):
        _, groups = kv
        copies = list(groups["copies"])
        if not copies:  # a claim for an answer not in the input
            return
        best = max(copies, key=S.copy_rank_key)
        for _ in copies[1:]:
            yield _outcome(R.DROP_DUPLICATE_RECORD)
        answer = dataclasses.replace(best, accepted=best.question_key in set(groups["claims"]))
        reason = S.drop_reason(answer, self._config)
        if reason is None:
            yield answer
        else:
            yield _outcome(reason)


class QuestionWithBestAnswers(beam.CombineFn):
    """Per question key, in bounded memory: the question (one copy, and how many came), the answers
    flagged accepted (one per question copy at most) and the top-N answers by score."""

    def __init__(self, config: S.StackExchangeConfig):
        self._config = config

    def create_accumulator(self):
        return [None, 0, {}, []]  # question, copies, accepted answers by id, heap of (rank, answer)

    def add_input(self, acc, tagged):
        role, post = tagged
        if role == "question":
            if acc[0] is None or S.copy_rank_key(post) > S.copy_rank_key(acc[0]):
                acc[0] = post
            acc[1] += 1
            return acc
        if post.accepted:
            acc[2][post.post_id] = post
        if post.score >= self._config.min_score:
            item = (S.answer_rank_key(post), post)
            if len(acc[3]) < self._config.top_n:
                heapq.heappush(acc[3], item)
            elif item[0] > acc[3][0][0]:
                heapq.heapreplace(acc[3], item)
        return acc

    def merge_accumulators(self, accs):
        merged = self.create_accumulator()
        heap = []
        for question, copies, accepted, best in accs:
            if question is not None and (merged[0] is None or S.copy_rank_key(question) > S.copy_rank_key(merged[0])):
                merged[0] = question
            merged[1] += copies
            merged[2].update(accepted)
            heap.extend(best)
        merged[3] = heapq.nlargest(self._config.top_n, heap, key=lambda item: item[0])
        heapq.heapify(merged[3])
        return merged

    def extract_output(self, acc):
        question, copies, accepted, heap = acc
        if question is None:
            return None, copies, []
        ranked = [post for _, post in sorted(heap, key=lambda item: item[0], reverse=True)]
        return question, copies, S.select_answers(question, accepted, ranked, self._config)


def _pairs_of(kv, config: S.StackExchangeConfig):
    _, (question, copies, chosen) = kv
    for _ in range(copies - 1):
        yield _outcome(R.DROP_DUPLICATE_RECORD)
    for answer in chosen:
        yield S.make_stackexchange_pair(question, answer, S.pair_language(answer.text, config))


def _question_check(kv):
    """(question key, {kept, dropped, children}) -> (answer key, question_missing|parent_dropped)."""
    _, groups = kv
    if any(True for _ in groups["kept"]):
        return
    fate = R.DROP_PARENT_DROPPED if any(True for _ in groups["dropped"]) else R.DROP_QUESTION_MISSING
    for child in groups["children"]:
        yield (child, fate)


class ExtractStackExchangePairs(beam.PTransform):
    """Typed posts -> {"pairs", "outcomes"}: every post gets exactly one outcome."""

    def __init__(self, config: S.StackExchangeConfig):
        super().__init__()
        self._config = config

    def expand(self, posts):
        config = self._config
        by_type = posts | "ByPostType" >> beam.ParDo(SplitByPostType()).with_outputs(
            "questions", "answers", "outcomes")
        questions = by_type.questions | "FilterQuestions" >> beam.ParDo(FilterQuestions(config)).with_outputs(
            "outcomes", "dropped_keys", main="kept")

        # Which answer is accepted is known from the question row: join by answer id first.
        claims = (
            by_type.questions
            | "WithAcceptedAnswer" >> beam.Filter(lambda q: q.accepted_answer_id is not None)
            | "ClaimByAnswerKey" >> beam.Map(lambda q: (q.accepted_key, q.key))
        )
        answers = (
            {"copies": by_type.answers | "KeyByAnswer" >> beam.Map(lambda a: (a.key, a)), "claims": claims}
            | "JoinAcceptedClaims" >> beam.CoGroupByKey()
            | "ResolveAnswers" >> beam.ParDo(ResolveAnswer(config)).with_outputs("outcomes", main="kept")
        )
        kept_answers = answers.kept

        threads = (
            (questions.kept | "AsQuestion" >> beam.Map(lambda q: (q.key, ("question", q))),
             kept_answers | "AsAnswer" >> beam.Map(lambda a: (a.question_key, ("answer", a))))
            | "QuestionsAndAnswers" >> beam.Flatten()
            | "BestAnswersPerQuestion" >> beam.CombinePerKey(QuestionWithBestAnswers(config))
        )
        made = threads | "MakePairs" >> beam.FlatMap(_pairs_of, config).with_outputs("outcomes", main="pairs")
        deduped = made.pairs | "DedupPairs" >> A.DedupPairs()

        # Why an answer is in no pair: its question is absent or filtered out (ids only, so a
        # question with 10k answers costs a stream of keys), else it lost to better answers.
        question_fates = (
            {
                "kept": questions.kept | "KeptQuestionKeys" >> beam.Map(lambda q: (q.key, 1)),
                "dropped": questions.dropped_keys | "DroppedQuestionKeys" >> beam.Map(lambda k: (k, 1)),
                "children": kept_answers | "AnswerOfQuestion" >> beam.Map(lambda a: (a.question_key, a.key)),
            }
            | "JoinQuestions" >> beam.CoGroupByKey()
            | "QuestionCheck" >> beam.FlatMap(_question_check)
        )
        default_fates = (
            (questions.kept | "QuestionDefault" >> beam.Map(lambda q: (q.key, R.DROP_NO_ANSWER)),
             kept_answers | "AnswerDefault" >> beam.Map(lambda a: (a.key, R.DROP_NOT_SELECTED_ANSWER)))
            | "Defaults" >> beam.Flatten()
        )
        resolved = (
            (default_fates, question_fates, deduped["fates"])
            | "AllFates" >> beam.Flatten()
            | "Resolve" >> A.ResolveFates(FATE_PRIORITY)
        )
        outcomes = (
            (by_type.outcomes, questions.outcomes, answers.outcomes, made.outcomes, resolved)
            | "Outcomes" >> beam.Flatten()
        )
        return {"pairs": deduped["pairs"], "outcomes": outcomes}


def config_as_dict(config: S.StackExchangeConfig) -> dict:
    return dataclasses.asdict(config)


def build_pipeline(pipeline: beam.Pipeline, options) -> None:
    own = options.view_as(StackExchangeOptions)
    if own.top_n < 1 or own.split_mb < 0:
        raise SystemExit("error: --top_n must be >= 1 and --split_mb >= 0")
    config = config_from_options(options)
    inputs = expand_inputs(own.input)
    out_dir = version_dir(own.output, S.SOURCE, own.dataset_version)
    prepare_version_dir(out_dir, own.overwrite)

    units = plan_read_units(inputs, own.split_mb << 20)
    read = pipeline | "Read" >> ReadStackExchangePosts(units, config)
    extracted = read["records"] | "Extract" >> ExtractStackExchangePairs(config)
    write_source_version(read, extracted, directory=out_dir, dataset=S.SOURCE, version=own.dataset_version,
                         inputs=inputs, num_shards=own.num_shards, options=config_as_dict(config),
                         extra={"sites": {str(i["path"]): S.site_from_path(str(i["path"])) for i in inputs}})


def run(argv: Optional[List[str]] = None) -> str:
    """Build and run; returns the version directory."""
    return run_source_job(argv, StackExchangeOptions, build_pipeline, S.SOURCE)


if __name__ == "__main__":
    logging.getLogger().setLevel(logging.INFO)
    print(run())
