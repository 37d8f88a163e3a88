"""Stack Exchange pipeline: per-site dumps -> (question title, accepted or upvoted answer) pairs.

    python -m pipelines.stackexchange --input 'dumps/*.7z' --input 'extracted/*/Posts.xml' --output out/

Inputs: ``<site>.7z`` as published (Posts.xml is streamed out of it), the split form
``stackoverflow.com-Posts.7z``, or an extracted Posts.xml (cut into byte ranges when larger
than --split_mb, so one huge file is read by many workers). The site comes from the path
(sources.stackexchange.site_from_path).

On the shared job (pipelines.job): safe row lines (a file with a DTD is refused whole) -> typed
posts -> inside the read batch (`decide`): the post-type split and the question and answer rules,
so a dropped post is an (outcome, n) count, never an element; the kept questions and answers, slim
Post rows (RowCoder), grouped into their threads, one element per block of question ids (site,
question id // THREAD_BLOCK) in the batch -> ExtractStackExchangePairs: ONE shuffle by block into
one combiner per block (ThreadsFn: per question its best copy, the accepted answer - known from
the question's own AcceptedAnswerId -, the top-N answers, counts for the rest) -> pairs -> dedup
by pair_id (a combiner). The fates leave as
(outcome, n) counts (no_answer, not_selected_answer, question_missing, parent_dropped,
duplicate_record, used, duplicate_pair); only a question with several pairs (--top_n > 1) is
resolved per key (used if one of its pairs was kept, else duplicate_pair). A copy of a post (two
dumps of one site) that a rule drops counts under that rule; duplicate_record is counted among the
kept copies, for answers as for questions.
"""

import itertools
from typing import Iterator, NamedTuple, Optional, Tuple

import apache_beam as beam

from pipelines import accounting, job
from pipelines.options import source_options
from pipelines.read import OUTCOMES, Counted, Raw, UnitReader, lines_of, open_unit
from pipelines.splits import ReadUnit, is_uncompressed
from pipelines.transforms import PerKeyInBlock
from schemas import reasons
from sources import stackexchange
from sources.errors import RejectRecord
from sources.formats.line_ranges import iter_range_lines
from sources.formats.readers import RawLine, TruncatedTail, iter_lines
from sources.formats.sevenzip import SevenZipMemberReader
from sources.formats.stackexchange_xml import (PROLOG_MAX_BYTES, PROLOG_MAX_LINES, check_prolog, is_row_line,
                                               is_structure_line, prolog_of, strip_line)

POSTS_MEMBER = "Posts.xml"
# The only fates resolved per key: a question with several pairs (--top_n > 1) is used if one was kept.
FATE_PRIORITY = [reasons.USED, reasons.DROP_DUPLICATE_PAIR]

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


# What a Post row stands for: a question copy a rule dropped (its answers learn it), a kept
# question, an answer (kept, or whose fate waits for its question's AcceptedAnswerId).
DROPPED, QUESTION, ANSWER = 0, stackexchange.QUESTION, stackexchange.ANSWER
# Threads travel in blocks: the key is the site and question id // THREAD_BLOCK, so one shuffled
# element carries the threads of up to THREAD_BLOCK consecutive ids (Beam's cost per element, paid
# per thread, was most of the keyed stage's), while the memory of a block stays bounded: each of
# its threads is (see ThreadsFn).
THREAD_BLOCK = 1024


class Post(NamedTuple):
    """A kept question or answer as it travels to its thread: only what the pair and the ranking need,
    encoded by Beam's RowCoder (a schema'd row, not a pickled dataclass). `question_id`: the thread
    (a question's own id, an answer's ParentId); the key gives the site. `if_accepted` and
    `if_not_accepted`: an answer's drop reason ("" if kept) when its question accepted it or not;
    they differ only when --accepted_min_score and --min_score do and the score lies between them."""

    role: int
    question_id: int
    post_id: int
    accepted_id: Optional[int]  # questions: AcceptedAnswerId
    score: int
    created_utc: Optional[int]
    last_activity_utc: Optional[int]
    text: str
    if_accepted: str
    if_not_accepted: str


beam.coders.registry.register_coder(Post, beam.coders.RowCoder)
POST_CODER = beam.coders.registry.get_coder(Post)


def block_key(site: str, question_id: int) -> str:
    return f"{site}#{question_id // THREAD_BLOCK}"


def _site_of(key: str) -> str:
    return key[: key.rindex("#")]


def copy_rank(post: Post) -> Tuple:
    """stackexchange.copy_rank_key on a row: of two copies (overlapping dumps), the most recently active."""
    return (post.last_activity_utc or 0, post.created_utc or 0, post.score, post.text, post.accepted_id or 0)


def answer_rank(post: Post) -> Tuple[int, int, int]:
    """stackexchange.answer_rank_key on a row: higher score, then earlier, then lower id."""
    return (post.score, -(post.created_utc or 0), -post.post_id)


class _Decide:
    """Inside the read batch (pipelines.read.ParseBatch): a typed post -> (block key, Post) when it
    goes on, or Counted(outcome) when it ends here (other post types, a question or answer a rule
    drops whatever its question says). A dropped question leaves a DROPPED marker, so its answers
    get parent_dropped, except on a meta site, whose answers the same rule drops."""

    def __init__(self, config: stackexchange.StackExchangeConfig):
        self._config = config

    def __call__(self, post: stackexchange.StackExchangePost):
        if post.is_question:
            reason = stackexchange.drop_reason(post, self._config)
            key = block_key(post.site, post.post_id)
            if reason is None:
                yield (key, Post(QUESTION, post.post_id, post.post_id, post.accepted_answer_id, post.score,
                                 post.created_utc, post.last_activity_utc, post.text, "", ""))
                return
            yield Counted(accounting.dropped(reason))
            if reason != reasons.DROP_META_SITE:
                yield (key, Post(DROPPED, post.post_id, post.post_id, post.accepted_answer_id, 0, None, None, "", "",
                                 ""))
        elif post.is_answer:
            if_accepted, if_not_accepted = stackexchange.answer_drop_reasons(post, self._config)
            if if_accepted is not None and if_accepted == if_not_accepted:
                yield Counted(accounting.dropped(if_accepted))
                return
            yield (block_key(post.site, post.parent_id),
                   Post(ANSWER, post.parent_id, post.post_id, None, post.score, post.created_utc,
                        post.last_activity_utc, post.text, if_accepted or "", if_not_accepted or ""))
        else:
            yield Counted(accounting.dropped(reasons.DROP_OTHER_POST_TYPE))


class _DecideInBatch(_Decide):
    """_Decide in the read batch, with the batch's kept rows grouped into their threads (Threads.add,
    bounded as in the combiner): they leave after its last record (batch_done) as one (block key,
    {question id: thread}) per block, not one element per post."""

    def __init__(self, config: stackexchange.StackExchangeConfig):
        super().__init__(config)
        self._threads, self._blocks = Threads(config.top_n, config.min_score), {}

    def __call__(self, post: stackexchange.StackExchangePost):
        for out in super().__call__(post):
            if type(out) is Counted:
                yield out
                continue
            key, row = out
            block = self._blocks.get(key)
            if block is None:
                block = self._blocks[key] = {}
            thread = block.get(row.question_id)
            if thread is None:
                thread = block[row.question_id] = _new_thread()
            self._threads.add(thread, row)

    def batch_done(self):
        blocks, self._blocks = self._blocks, {}
        return list(blocks.items())


class _DecideEach(beam.DoFn):
    """_Decide as a DoFn, for typed posts given to ExtractStackExchangePairs directly (tests)."""

    def __init__(self, config: stackexchange.StackExchangeConfig):
        self._decide = _Decide(config)

    def process(self, post):
        for out in self._decide(post):
            if type(out) is Counted:
                accounting.count(out.outcome, out.n)
                yield beam.pvalue.TaggedOutput(OUTCOMES, (out.outcome, out.n))
            else:
                yield out


# A thread, a list: [best question copy or None, question copies, a dropped copy seen, AcceptedAnswerIds
# of every copy, answers in hand, kept answers folded into counts (_folded_entry), extra answer copies,
# (drop reason, n) of answers whose reason waited for the question].
_Q, _COPIES, _DROPPED, _CLAIMS, _HAND, _FOLDED, _DUPS, _DROPS = range(8)


def _new_thread() -> list:
    return [None, 0, False, [], [], [], 0, []]


class Threads:
    """The threads' rules, for ThreadsFn: a thread's best question copy and the answers a pair may
    take, in bounded memory.

    Once a copy of the question (kept or dropped) is in, a thread holds its top `cap` answers by
    rank (score >= --min_score) and the answers a copy names accepted; every other kept answer is
    folded into its id and copy rank (_folded_entry). Before that any answer may be the
    accepted one, so they are held: in dump order a question precedes its answers, so that is the
    few answers cut off by a read batch boundary (all of them only for a question not in the
    input). Of two copies of an answer (overlapping dumps) the most recently active stays, the other
    is a duplicate_record, whether folded or in hand; a copy in the top that a more recent one
    (ranked lower) replaces leaves a place no folded answer takes back (not exact then, and rare).
    """

    def __init__(self, cap: int, min_score: int):
        self._cap, self._min_score = cap, min_score

    def add(self, thread: list, post: Post) -> None:
        if post.role == ANSWER:
            thread[_HAND].append(post)
            if len(thread[_HAND]) > 2 * self._cap + len(thread[_CLAIMS]) + 4:
                self.settle(thread)
            return
        if post.accepted_id is not None and post.accepted_id not in thread[_CLAIMS]:
            thread[_CLAIMS] = thread[_CLAIMS] + [post.accepted_id]
        if post.role == QUESTION:
            thread[_COPIES] += 1
            if thread[_Q] is None or copy_rank(post) > copy_rank(thread[_Q]):
                thread[_Q] = post
        else:
            thread[_DROPPED] = True

    def merge(self, into: list, other: list) -> None:
        if other[_Q] is not None and (into[_Q] is None or copy_rank(other[_Q]) > copy_rank(into[_Q])):
            into[_Q] = other[_Q]
        into[_COPIES] += other[_COPIES]
        into[_DROPPED] = into[_DROPPED] or other[_DROPPED]
        into[_CLAIMS] = into[_CLAIMS] + [c for c in other[_CLAIMS] if c not in into[_CLAIMS]]
        into[_HAND] = list(into[_HAND]) + list(other[_HAND])
        into[_FOLDED] = list(into[_FOLDED]) + list(other[_FOLDED])
        into[_DUPS] += other[_DUPS]
        into[_DROPS] = _add_counts(into[_DROPS], other[_DROPS])
        if len(into[_HAND]) > 2 * self._cap + len(into[_CLAIMS]) + 4:
            self.settle(into)

    def settle(self, thread: list, final: bool = False) -> None:
        """Once a question copy is known (or at the end): resolve the answers whose reason waited for it,
        keep one copy per answer id, and fold every answer but the top `cap` and the accepted ones."""
        hand = thread[_HAND]
        if not final and thread[_Q] is None and not thread[_DROPPED]:
            return
        if not thread[_FOLDED] and (not hand or len(hand) == 1 and not (hand[0].if_accepted or
                                                                       hand[0].if_not_accepted)):
            return  # nothing to resolve, fold or deduplicate
        claims = thread[_CLAIMS]
        drops, best = {}, {}
        for post in hand:
            if post.if_accepted or post.if_not_accepted:
                reason = post.if_accepted if post.post_id in claims else post.if_not_accepted
                if reason:
                    drops[reason] = drops.get(reason, 0) + 1
                    continue
                post = post._replace(if_accepted="", if_not_accepted="")
            other = best.get(post.post_id)
            if other is None:
                best[post.post_id] = post
                continue
            thread[_DUPS] += 1
            if copy_rank(post) > copy_rank(other):
                best[post.post_id] = post
        if drops:
            thread[_DROPS] = _add_counts(thread[_DROPS], list(drops.items()))
        folded = thread[_FOLDED]
        if folded:
            by_id = {}
            for entry in folded:  # a copy folded twice: one is the extra
                kept = by_id.get(entry[0])
                if kept is not None:
                    thread[_DUPS] += 1
                by_id[entry[0]] = entry if kept is None or tuple(entry) > tuple(kept) else kept
            for post_id in [i for i in best if i in by_id]:
                thread[_DUPS] += 1  # of a copy in hand and a folded one, the more recent stays
                if _folded_entry(best[post_id]) > tuple(by_id[post_id]):
                    del by_id[post_id]
                else:
                    del best[post_id]
            folded = list(by_id.values()) if len(by_id) < len(folded) else list(folded)
        else:
            folded = []
        top = sorted((p for p in best.values() if p.post_id not in claims and p.score >= self._min_score),
                     key=answer_rank, reverse=True)
        for post in top[self._cap:]:
            folded.append(_folded_entry(post))
            del best[post.post_id]
        thread[_HAND], thread[_FOLDED] = list(best.values()), folded


def _folded_entry(post: Post) -> Tuple[int, int, int, int]:
    """What a folded answer keeps: its id and its copy rank but the text (a later copy is compared to it)."""
    return (post.post_id, post.last_activity_utc or 0, post.created_utc or 0, post.score)


class ThreadsFn(PerKeyInBlock):
    """Per block key: {question id: thread} of the block's threads (see Threads), each in bounded
    memory, so a block is bounded too (at most THREAD_BLOCK threads)."""

    def __init__(self, cap: int, min_score: int):
        self._threads = Threads(cap, min_score)

    def add_input(self, block, value):
        if type(value) is dict:  # a read batch's threads of this block (_DecideInBatch)
            return self.merge_block(block, value)
        thread = block.get(value.question_id)
        if thread is None:
            thread = block[value.question_id] = _new_thread()
        self._threads.add(thread, value)
        return block

    def merge_state(self, seen, new):
        self._threads.merge(seen, new)
        return seen

    def compact(self, block):
        return block

    def extract_output(self, block):
        for thread in block.values():
            self._threads.settle(thread, final=True)
        return block

    def get_accumulator_coder(self):
        return _BlockCoder()


def _add_counts(a, b):
    counts = dict(a)
    for reason, n in b:
        counts[reason] = counts.get(reason, 0) + n
    return sorted(counts.items())


class _BlockCoder(beam.coders.Coder):
    """ThreadsFn's {question id: thread} as a list of (id, thread) through Beam's own coders: Post rows
    by RowCoder, the rest ints, booleans and strings."""

    def __init__(self):
        thread = beam.coders.TupleCoder([
            beam.coders.NullableCoder(POST_CODER), beam.coders.VarIntCoder(), beam.coders.BooleanCoder(),
            beam.coders.ListCoder(beam.coders.VarIntCoder()), beam.coders.ListCoder(POST_CODER),
            beam.coders.ListCoder(beam.coders.TupleCoder([beam.coders.VarIntCoder()] * 4)), beam.coders.VarIntCoder(),
            beam.coders.ListCoder(beam.coders.TupleCoder([beam.coders.StrUtf8Coder(), beam.coders.VarIntCoder()]))])
        self._list = beam.coders.ListCoder(beam.coders.TupleCoder([beam.coders.VarIntCoder(), thread]))

    def encode(self, block):
        return self._list.encode([(question_id, tuple(thread)) for question_id, thread in sorted(block.items())])

    def decode(self, encoded):
        return {question_id: list(thread) for question_id, thread in self._list.decode(encoded)}

    def is_deterministic(self):
        return True


def _as_post(site: str, row: Post) -> stackexchange.StackExchangePost:
    parent = row.question_id if row.role == ANSWER else None
    return stackexchange.StackExchangePost(site, row.post_id, row.role, parent, row.accepted_id, row.score,
                                           row.created_utc, row.last_activity_utc, row.text)


class MakePairs(accounting.CountsPerBundle):
    """A block of threads -> their pairs as (pair_id, (pair row, pairs of its question)), and the fates
    of their records as counts: extra copies duplicate_record, a question no_answer when it has no
    pair, answers not chosen not_selected_answer, answers of an absent question question_missing or
    parent_dropped. A question with several pairs also gets a duplicate_pair event ("fates"), which
    a kept pair of it outranks."""

    def __init__(self, config: stackexchange.StackExchangeConfig):
        super().__init__()
        self._config = config

    def process(self, block):
        key, threads = block
        site = _site_of(key)
        for question_id in sorted(threads):
            yield from self._thread(site, threads[question_id])

    def _thread(self, site: str, thread: list):
        question, copies, dropped, _claims, hand, folded, dups, drops = thread
        add = self.add
        add(accounting.dropped(reasons.DROP_DUPLICATE_RECORD), dups + max(copies - 1, 0))
        for reason, n in drops:
            add(accounting.dropped(reason), n)
        answers = len(hand) + len(folded)
        if question is None:
            add(accounting.dropped(reasons.DROP_PARENT_DROPPED if dropped else reasons.DROP_QUESTION_MISSING), answers)
            return
        config = self._config
        query = _as_post(site, question)
        accepted = {p.post_id: p for p in hand if p.post_id == question.accepted_id}
        ranked = sorted(hand, key=answer_rank, reverse=True)
        chosen = stackexchange.select_answers(query, accepted, ranked, config)
        add(accounting.dropped(reasons.DROP_NOT_SELECTED_ANSWER), answers - len(chosen))
        if not chosen:
            add(accounting.dropped(reasons.DROP_NO_ANSWER))
            return
        for answer in chosen:
            passage = _as_post(site, answer)
            pair = stackexchange.make_stackexchange_pair(query, passage,
                                                         stackexchange.pair_language(passage.text, config))
            yield (pair["pair_id"], (accounting.pair_row(pair), len(chosen)))
        if len(chosen) > 1:
            yield beam.pvalue.TaggedOutput("fates", (query.key, reasons.DROP_DUPLICATE_PAIR))


_QUERY_ID, _PASSAGE_ID = accounting.PAIR_COLUMNS.index("query_id"), accounting.PAIR_COLUMNS.index("passage_id")


class SmallestPair(beam.CombineFn):
    """Per pair_id: (the candidate with the smallest (query_id, passage_id), pairs its question made,
    candidates whose question made only this one, candidates) in O(1) memory."""

    def create_accumulator(self):
        return (None, 0, 0, 0)

    def add_input(self, acc, candidate):
        row, pairs = candidate
        return self.merge_accumulators([acc, (row, pairs, int(pairs == 1), 1)])

    def merge_accumulators(self, accs):
        best, best_pairs, single, n = None, 0, 0, 0
        for row, pairs, k_single, k in accs:
            single, n = single + k_single, n + k
            if row is not None and (best is None or (row[_QUERY_ID], row[_PASSAGE_ID]) <
                                    (best[_QUERY_ID], best[_PASSAGE_ID])):
                best, best_pairs = row, pairs
        return (best, best_pairs, single, n)

    def extract_output(self, acc):
        return acc


class KeptPairs(accounting.CountsPerBundle):
    """(pair_id, the SmallestPair result) -> the kept pair (a pair_row tuple); its answer used and every other candidate's
    answer duplicate_pair (an answer is in one pair at most); so for a question with this one pair;
    a question with several gets a used event ("fates") for ResolveFates."""

    def process(self, kv):
        row, pairs, single, n = kv[1]
        used, duplicate = reasons.USED, accounting.dropped(reasons.DROP_DUPLICATE_PAIR)
        self.add(used)
        self.add(duplicate, n - 1)
        if pairs == 1:
            self.add(used)
            self.add(duplicate, single - 1)
        else:
            self.add(duplicate, single)
            yield beam.pvalue.TaggedOutput("fates", (row[_QUERY_ID], reasons.USED))
        yield row


class ExtractStackExchangePairs(beam.PTransform):
    """The read's {"records": (block key, {question id: thread}), "outcomes"} (or typed posts, tests) ->
    {"pair_rows" (the pairs as accounting.pair_row tuples, what the sink takes), "outcomes"}: every post
    gets exactly one outcome.

    Two keyed stages, both combiners: the threads per block of question ids (ThreadsFn: a block's
    accumulator crosses the shuffle, never its posts one by one) and the pair dedup per pair_id
    (SmallestPair). Outcomes leave as (outcome, n) counts per bundle.
    """

    def __init__(self, config: stackexchange.StackExchangeConfig):
        super().__init__()
        self._config = config

    def expand(self, read):
        config = self._config
        if isinstance(read, dict):  # the job: _Decide ran inside the read batch
            rows, early = read["records"], read[OUTCOMES]
        else:
            decided = read | "Decide" >> beam.ParDo(_DecideEach(config)).with_output_types(
                Tuple[str, Post]).with_outputs(OUTCOMES, main="rows")
            rows, early = decided.rows, decided[OUTCOMES]
        threads = rows | "Threads" >> beam.CombinePerKey(ThreadsFn(config.top_n, config.min_score))
        made = threads | "MakePairs" >> beam.ParDo(MakePairs(config)).with_outputs(OUTCOMES, "fates", main="pairs")
        kept = (
            made.pairs
            | "OnePerPairId" >> beam.CombinePerKey(SmallestPair())
            | "KeptPairs" >> beam.ParDo(KeptPairs()).with_outputs(OUTCOMES, "fates", main="pairs")
        )
        counted = [early, made[OUTCOMES], kept[OUTCOMES]]
        if config.top_n > 1:  # only a question with several pairs has fates to resolve per key
            counted.append(
                (made.fates, kept.fates)
                | "ContestedFates" >> beam.Flatten()
                | "Resolve" >> accounting.ResolveFates(FATE_PRIORITY)
            )
        outcomes = tuple(counted) | "Outcomes" >> beam.Flatten()
        return {"pair_rows": kept.pairs, "outcomes": outcomes}


def _sites(inputs, _config) -> dict:
    return {"sites": {str(i["path"]): stackexchange.site_from_path(str(i["path"])) for i in inputs}}


JOB = job.SourceJob(
    name=stackexchange.SOURCE,
    options_class=StackExchangeOptions,
    reader=lambda config: ReadPostsXml(),
    parse=_Parser,
    extract=ExtractStackExchangePairs,
    decide=_DecideInBatch,
    splittable=is_uncompressed,
    split_bytes=lambda config: config.split_mb << 20,
    manifest_extra=_sites,
)


build_pipeline, run, main = job.entry_points(JOB)


if __name__ == "__main__":
    # Run the job of the module imported under its own name: a class defined here then pickles as
    # pipelines.stackexchange.X, which SDK workers (multi-processing, Dataflow) import; __main__.X they cannot.
    from pipelines import stackexchange as job_module

    job_module.main()
