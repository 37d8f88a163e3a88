"""Reddit pipeline: Pushshift RS_/RC_ dumps -> (post, comment) and (comment, reply) pairs.

    python -m pipelines.reddit --input 'RC_*.zst' --input 'RS_*.zst' --output out/ [--top_n 1]

On the shared job (pipelines.job): files of NDJSON lines -> typed posts, and inside the read batch
Reddit's rules (Decide: a dropped post is an (outcome, n) count plus a marker, a kept one a slim node;
the batch's posts leave grouped by block of fullnames, one element per block, not one per post) ->
ExtractRedditPairs: one copy per fullname (one combiner per block of fullnames) -> threads in blocks of
parent fullnames (one combiner per block, per parent key the parent and its top-N replies; OneCopy sends
one element per block it touched in its bundle) -> pairs -> dedup by pair_id. Between stages a post
is a plain tuple of Node's fields (FastPrimitivesCoder), not a pickled dataclass.

Outcomes: every kept post's default fate (no_reply, its refusal, not_top_reply) is counted where its
copy is chosen; only a post that may end better has a small fate event, one per role at most (its
own thread made a pair; its parent's thread paired it, found it repeating its query, or has no
parent), plus the dedup's used events. Events travel in blocks of fullnames (fate_block: kind and
base-36 id // FATE_BLOCK), one element per block a stage touched in its bundle, into one combiner per
block (FateBlockFn: best and default rank per fullname), and BlockCorrections moves each record from
its default to its best fate as (outcome, n) counts.
"""

import re
from typing import Any, NamedTuple, Optional, Tuple

import apache_beam as beam
from apache_beam.transforms.window import GlobalWindows

from pipelines import accounting, job
from pipelines.options import source_options
from pipelines.read import Counted, LineFileReader
from pipelines.transforms import PerKeyInBlock
from schemas import reasons
from sources import reddit

# low_score: a comment kept only as a possible query (below --min_score) that no pair used.
# too_few_words: the same for a comment under --min_reply_words.
FATE_PRIORITY = [
    reasons.USED,
    reasons.DROP_DUPLICATE_PAIR,
    reasons.DROP_REPEATS_QUERY,
    reasons.DROP_LOW_SCORE,
    reasons.DROP_TOO_FEW_WORDS,
    reasons.DROP_PARENT_DROPPED,
    reasons.DROP_PARENT_MISSING,
    reasons.DROP_NOT_TOP_REPLY,
    reasons.DROP_NO_REPLY,
]

RedditOptions = source_options(reddit.SOURCE, reddit.RedditConfig)

# Replies offered per parent beyond --top_n: a top reply that is only a copy of its query gives
# way to the next one (the copy is seen only once the parent's text is joined).
SPARE_REPLIES = reddit.SPARE_REPLIES
copy_rank = reddit.copy_rank_key

# What an element of the keyed stages stands for (Node.role).
PARENT, REPLY, DROPPED = 0, 1, 2


class Node(NamedTuple):
    """A kept post as it travels between the keyed stages: only what the joins and the pair need.
    On the wire it is a plain tuple of these fields (str, int, None), which Beam's FastPrimitivesCoder
    writes in C: a NamedTuple would be pickled, and a RowCoder encodes each str field through a
    Python call (3.2 against 1.1 us per node, measured); the stages read it as a Node where they rank
    or pair it (`as_node`). `raw_text` is the raw text where it differs from `text` (the copy rank
    reads it; None once a copy is chosen or when equal); `refusal` why it may not be a passage (""
    if it may; submissions "submission")."""

    role: int
    fullname: str
    parent: str  # "" for submissions
    subreddit: str
    raw_text: Optional[str]
    text: str
    score: Optional[int]
    created_utc: Optional[int]
    refusal: str


SUBMISSION = "submission"
ROLE, FULLNAME, PARENT_ID, REFUSAL = 0, 1, 2, 8  # Node fields read from the plain tuple
as_node = Node._make


def _node(post: reddit.RedditPost, config: reddit.RedditConfig) -> tuple:
    refusal = (reddit.reply_refusal(post, config) or "") if post.is_comment else SUBMISSION
    return (PARENT, post.fullname, post.parent or "", post.subreddit,
            None if post.raw_text == post.text else post.raw_text, post.text, post.score, post.created_utc, refusal)


def _dropped_marker(fullname: str) -> tuple:
    return (DROPPED, fullname, "", "", None, "", None, None, "")


def _reply_rank(node: tuple):
    return reddit.reply_rank_key(as_node(node))


class Decide:
    """Reddit's rules inside the read batch (pipelines.read.ParseBatch): a typed post -> (block of its
    fullname, {fullname: copy}) where a copy is (Node, 1) when kept; a dropped post -> its outcome as a
    count and a dropped marker (None, 0), so that its replies learn that their parent was dropped.
    The batch's copies are held per block and leave after its last record (`batch_done`): one element
    per block of fullnames the batch touched (about two per batch of 500 lines), not one per post."""

    def __init__(self, config: reddit.RedditConfig):
        self._config = config
        self._blocks = {}

    def __call__(self, post: reddit.RedditPost):
        config = self._config
        reason = reddit.drop_reason(post, config)
        if reason is None:
            self._hold(post.fullname, (_node(post, config), 1))
            return
        if reason == reasons.DROP_BOT_AUTHOR:
            accounting.count_cleanup(reddit.bot_rule(post.author, config))
        yield Counted(accounting.dropped(reason))
        self._hold(post.fullname, DROPPED_COPY)

    def _hold(self, fullname: str, copy: tuple) -> None:
        key = fate_block(fullname)
        block = self._blocks.get(key)
        if block is None:
            self._blocks[key] = {fullname: copy}
            return
        seen = block.get(fullname)
        block[fullname] = copy if seen is None else merged_copy(seen, copy)

    def batch_done(self):
        blocks, self._blocks = self._blocks, {}
        return sorted(blocks.items())


# A fullname's copies: (its best kept Node or None, how many kept copies); only dropped ones: (None, 0).
DROPPED_COPY = (None, 0)


def _better_copy(a: tuple, b: tuple) -> tuple:
    """The copy that wins (sources.reddit.copy_rank_key; a full tie goes to the smaller repr, so the
    choice never depends on the order of arrival)."""
    rank_a, rank_b = copy_rank(as_node(a)), copy_rank(as_node(b))
    if rank_a != rank_b:
        return a if rank_a > rank_b else b
    return a if repr(a) <= repr(b) else b


def merged_copy(a: tuple, b: tuple) -> tuple:
    node_a, node_b = a[0], b[0]
    node = node_b if node_a is None else node_a if node_b is None else _better_copy(node_a, node_b)
    return (node, a[1] + b[1])


class CopiesFn(PerKeyInBlock):
    """Per block of fullnames: {fullname: (best kept Node or None, kept copies)}, merged over the read
    batches' blocks: at most FATE_BLOCK fullnames, one entry each however many copies it has."""

    def merge_state(self, seen, new):
        return merged_copy(seen, new)


class _DecideEach(accounting.CountsPerBundle):
    """Decide as a DoFn over typed posts (the graph without the shared read, e.g. in tests): one block
    element per post."""

    def __init__(self, config: reddit.RedditConfig):
        super().__init__()
        self._decide = Decide(config)

    def process(self, post):
        for out in self._decide(post):
            self.add(out.outcome, out.n)
        yield from self._decide.batch_done()


def default_fate(node: tuple) -> str:
    """A kept post's fate unless a pair or a thread says better: a submission no_reply, a comment
    that may not be a passage its refusal, any other comment not_top_reply."""
    refusal = node[REFUSAL]
    if refusal == SUBMISSION:
        return reasons.DROP_NO_REPLY
    return refusal or reasons.DROP_NOT_TOP_REPLY


class OneCopy(accounting.CountsPerBundle):
    """(block, {fullname: (best Node or None, kept copies)}) -> per fullname the best copy as a parent
    (keyed by itself) and, for a comment that may be a passage, as a reply (keyed by its parent); a
    fullname that was only dropped -> its marker, so its replies learn it. These (thread key, node)
    entries leave in blocks of thread keys (FateBlocks), one element per block per bundle. Counted here ("outcomes",
    per bundle): the post's default fate and duplicate_record per other copy; only a better fate
    travels later, as a fate event."""

    def __init__(self):
        super().__init__(counters=False)
        self._duplicate = accounting.dropped(reasons.DROP_DUPLICATE_RECORD)
        self._defaults = {}

    def start_bundle(self):
        super().start_bundle()
        self._threads = FateBlocks()  # (thread key, node) entries per block of thread keys

    def finish_bundle(self):
        yield from super().finish_bundle()
        yield from _windowed_blocks(self._threads, None)

    def process(self, kv):
        threads = self._threads
        for out in self._copies(kv[1]):
            threads.add_entry(*out)
        if threads.full:
            yield from _windowed_blocks(threads, None)

    def _copies(self, block):
        for key, (best, copies) in sorted(block.items()):  # a block: at most FATE_BLOCK fullnames
            if best is None:
                yield (key, _dropped_marker(key))
                continue
            if copies > 1:
                self.add(self._duplicate, copies - 1)
            fate = default_fate(best)
            outcome = self._defaults.get(fate)
            if outcome is None:
                outcome = self._defaults[fate] = accounting.dropped(fate)
            self.add(outcome)
            best = (PARENT,) + tuple(best[1:4]) + (None,) + tuple(best[5:])  # chosen: its raw text is not needed
            yield (key, best)
            if not best[REFUSAL]:
                yield (best[PARENT_ID], (REPLY,) + best[1:])


class ThreadFn(beam.CombineFn):
    """Per parent key: (parent node or None, dropped, its best `cap` replies best first, the other
    replies' fullnames while no parent is seen). A combiner, so a thread of 100k comments never
    sits in one list once its parent is known; the fullnames are kept only for a parent that is
    absent (each such reply gets parent_missing or parent_dropped). Replies are ranked and cut
    when the list holds twice the cap (not at every reply), when merged, compacted and extracted.
    Nodes are plain tuples (Node's fields): the accumulator is written by FastPrimitivesCoder."""

    def __init__(self, cap: int):
        self._cap = cap
        self._slack = 2 * cap + 8

    def create_accumulator(self):
        return (None, False, [], [])

    def _capped(self, node, top, others):
        if len(top) > 1:
            top.sort(key=_reply_rank, reverse=True)
        if len(top) > self._cap:
            if node is None:
                others = others + [r[FULLNAME] for r in top[self._cap:]]
            del top[self._cap:]
        return top, ([] if node is not None else others)

    def add_input(self, acc, entry):
        node, dropped, top, others = acc
        role = entry[ROLE]
        if role == REPLY:
            top.append(entry)
            if len(top) > self._slack:
                top, others = self._capped(node, top, others)
            return (node, dropped, top, others)
        if role == PARENT:
            return (entry, dropped, top, [])
        return (node, True, top, others)

    def merge_accumulators(self, accs):
        accs = list(accs)
        if len(accs) == 1:  # most keys: one accumulator per parent (Beam merges even a single one)
            return self.compact(accs[0])
        node, dropped, top, others = None, False, [], []
        for a_node, a_dropped, a_top, a_others in accs:
            node = node if a_node is None else a_node
            dropped = dropped or a_dropped
            top.extend(a_top)
            others.extend(a_others)
        top, others = self._capped(node, top, others)
        return (node, dropped, top, others)

    def compact(self, acc):
        node, dropped, top, others = acc
        if len(top) <= 1 and (node is None or not others):  # nothing to rank or cut: most keys
            return acc
        top, others = self._capped(node, list(top), others)
        return (node, dropped, top, others)

    def extract_output(self, acc):
        node, dropped, top, others = self.compact(acc)
        if len(others) > 1:
            others = sorted(others)  # the same output whatever the runner's merge order
        return (node, dropped, top, others)


# Fate events travel in blocks of fullnames: the key is the kind and the base-36 id // FATE_BLOCK
# (every event of one fullname lands in the same block), and a stage sends one element per block it
# touched in its bundle, holding many (fullname, best rank, default rank) entries, instead of one
# element per event. A block's state is one entry per fullname, so at most FATE_BLOCK entries.
FATE_BLOCK_BITS = 10
FATE_BLOCK = 1 << FATE_BLOCK_BITS
FATE_RANK = {fate: i for i, fate in enumerate(FATE_PRIORITY)}
NO_DEFAULT = len(FATE_PRIORITY)  # an event that names no default fate (the dedup's used)
_BASE36_ID = re.compile(r"[0-9a-z]{1,13}")
# Entries a stage holds before it sends its blocks early: its memory stays bounded whatever the bundle.
HELD_FATES_MAX = 50_000


def fate_block(fullname: str) -> str:
    """The block of a fullname's fate events: "t1_" + hex(id // FATE_BLOCK) for a base-36 id; any other
    name is a block of its own (a block never holds more than FATE_BLOCK names)."""
    kind, sep, name = fullname.partition("_")
    if sep and _BASE36_ID.fullmatch(name):
        return "%s_%x" % (kind, int(name, 36) >> FATE_BLOCK_BITS)
    return "=" + fullname


class FateBlocks:
    """Fate events of one bundle grouped by fate_block: add(fullname, best rank, default rank), then
    `blocks()` (block key, [entries]) once the bundle ends, or `full` says to send them early."""

    def __init__(self, held_max: int = HELD_FATES_MAX):
        self._blocks, self._held, self._held_max = {}, 0, held_max

    def add(self, fullname: str, best: int, default: int) -> None:
        self.add_entry(fullname, best, default)

    def add_entry(self, fullname: str, *value) -> None:
        """Any entry (fullname, ...) in the block of its fullname (OneCopy: (thread key, node))."""
        key = fate_block(fullname)
        block = self._blocks.get(key)
        if block is None:
            block = self._blocks[key] = []
        block.append((fullname,) + value)
        self._held += 1

    @property
    def full(self) -> bool:
        return self._held >= self._held_max

    def blocks(self):
        blocks, self._blocks, self._held = self._blocks, {}, 0
        return sorted(blocks.items())


def _windowed_blocks(blocks: FateBlocks, tag: Optional[str]):
    for block in blocks.blocks():
        value = GlobalWindows.windowed_value(block)
        yield value if tag is None else beam.pvalue.TaggedOutput(tag, value)


class ThreadsPerBlockFn(PerKeyInBlock):
    """Per block of thread keys (the parents' fullnames): {parent key: ThreadFn accumulator}, from
    OneCopy's blocks of (thread key, node) entries. At most FATE_BLOCK parents per block, each thread
    as bounded as in ThreadFn."""

    def __init__(self, cap: int):
        self._thread = ThreadFn(cap)

    def add_input(self, block, entries):
        thread = self._thread
        for key, node in entries:
            acc = block.get(key)
            block[key] = thread.add_input(thread.create_accumulator() if acc is None else acc, node)
        return block

    def merge_state(self, seen, new):
        return self._thread.merge_accumulators([seen, new])

    def compact(self, block):
        compact = self._thread.compact
        return {key: compact(acc) for key, acc in block.items()}

    def extract_output(self, block):
        extract = self._thread.extract_output
        return {key: extract(acc) for key, acc in block.items()}


class MakePairs(beam.DoFn):
    """A block of threads, each (parent, its top_n + SPARE_REPLIES best replies) -> pairs of its top_n best usable
    replies, and ("fates", in blocks: FateBlocks) an event (fullname, fate, default fate) for each
    record that may end better than the default counted for it: both records of a pair made
    (duplicate_pair, which the dedup's used outranks; the parent once), a reply left too short once
    cut of what it copies from its query (repeats_query), the replies of an absent parent
    (parent_missing or parent_dropped). Spares not needed keep their default (not_top_reply): no event."""

    def __init__(self, config: reddit.RedditConfig):
        self._config = config

    def start_bundle(self):
        self._fates = FateBlocks()

    def process(self, block):
        fates, threads = self._fates, block[1]
        for key in sorted(threads):
            yield from self._thread(threads[key], fates)
        if fates.full:
            yield from _windowed_blocks(fates, "fates")

    def finish_bundle(self):
        yield from _windowed_blocks(self._fates, "fates")

    def _thread(self, thread, fates: FateBlocks):
        parent, dropped, replies, others = thread
        if parent is None:
            fate = FATE_RANK[reasons.DROP_PARENT_DROPPED if dropped else reasons.DROP_PARENT_MISSING]
            for reply in replies:
                fates.add(reply[FULLNAME], fate, NOT_TOP)
            for fullname in others:
                fates.add(fullname, fate, NOT_TOP)
            return
        parent, made = as_node(parent), 0
        for reply in map(as_node, replies):
            if made == self._config.top_n:
                break
            passage, cut = reddit.reply_passage(parent, reply, self._config)
            if cut:
                accounting.count_cleanup(reddit.COPIED_QUERY_WORDS_CUT, cut)
            if passage is None:
                fates.add(reply.fullname, REPEATS, NOT_TOP)
                continue
            lang = "en" if self._config.english_only else _detect(passage)
            made += 1
            fates.add(reply.fullname, DUPLICATE_PAIR, NOT_TOP)
            yield reddit.make_reddit_pair(parent, reply, lang, passage)
        if made:
            fates.add(parent.fullname, DUPLICATE_PAIR, FATE_RANK[default_fate(parent)])


NOT_TOP = FATE_RANK[reasons.DROP_NOT_TOP_REPLY]  # the default fate of every comment that may be a passage
DUPLICATE_PAIR = FATE_RANK[reasons.DROP_DUPLICATE_PAIR]
REPEATS = FATE_RANK[reasons.DROP_REPEATS_QUERY]
USED = FATE_RANK[reasons.USED]


class UsedFates(beam.DoFn):
    """Kept pair rows -> the used event of both their records, in blocks (FateBlocks)."""

    def start_bundle(self):
        self._fates = FateBlocks()

    def process(self, row):
        fates = self._fates
        fates.add(row[accounting.PAIR_QUERY_ID], USED, NO_DEFAULT)
        fates.add(row[accounting.PAIR_PASSAGE_ID], USED, NO_DEFAULT)
        if fates.full:
            yield from _windowed_blocks(fates, None)

    def finish_bundle(self):
        yield from _windowed_blocks(self._fates, None)


class FateBlockFn(PerKeyInBlock):
    """Per fate block: {fullname: (best rank, default rank)} over every event of the block's fullnames
    (at most FATE_BLOCK of them, so bounded however many events a fullname gets)."""

    def add_input(self, block, entries):
        for fullname, best, default in entries:
            seen = block.get(fullname)
            if seen is None:
                block[fullname] = (best, default)
            elif best < seen[0] or default < seen[1]:
                block[fullname] = (min(best, seen[0]), min(default, seen[1]))
        return block

    def merge_state(self, seen, new):
        return (min(seen[0], new[0]), min(seen[1], new[1]))


class BlockCorrections(accounting.CountsPerBundle):
    """(block, {fullname: (best, default)}) -> corrections summed per bundle: a record whose best fate
    beats its default moves, (best, +1) and (default, -1); one whose events name no default is (best, +1)
    (summed with the defaults by accounting.NetOutcomes)."""

    def __init__(self):
        super().__init__(counters=False)
        self._outcomes = [reasons.USED if f == reasons.USED else accounting.dropped(f) for f in FATE_PRIORITY]

    def process(self, kv):
        outcomes = self._outcomes
        for best, default in kv[1].values():
            if best != default:
                self.add(outcomes[best])
                if default < NO_DEFAULT:
                    self.add(outcomes[default], -1)
        return ()


def _detect(text: str) -> str:
    from sources.text.langid import detect_language

    return detect_language(text)[0]


class ExtractRedditPairs(beam.PTransform):
    """The read's {"records": (block, {fullname: copy}) of kept posts and dropped markers (Decide, in the read
    batch), "outcomes": (outcome, n)} (or typed posts: tests) -> {"pair_rows" (the kept pairs as
    accounting.pair_row tuples, what the sink takes), "outcomes"}: every post gets exactly one outcome.

    Two keyed stages carry a slim node (a plain tuple): one copy per fullname (a combiner per block of
    fullnames, CopiesFn: the read batch sends one element per block; a fullname is one entry however
    many copies it has), then the thread per parent key (one combiner per block of parent keys,
    ThreadsPerBlockFn: per parent the parent and its top_n + SPARE_REPLIES replies); then the pair
    dedup. Outcomes: each kept post's default fate is a count (OneCopy); a post that may end better (in
    a pair, repeating its query, under an absent parent) has one small event per role, sent in blocks of
    fullnames (FateBlocks) to one combiner per block (FateBlockFn), and BlockCorrections moves it from
    its default to its best fate."""

    def __init__(self, config: reddit.RedditConfig):
        super().__init__()
        self._config = config

    def expand(self, read):
        config = self._config
        keyed = Tuple[Any, Any]  # (fullname, node tuple): FastPrimitivesCoder on both sides, in C
        if isinstance(read, dict):  # the job: Decide ran inside the read batch
            records, early = read["records"], read["outcomes"]
        else:  # typed posts (tests)
            decided = read | "Decide" >> beam.ParDo(_DecideEach(config)).with_output_types(keyed).with_outputs(
                "outcomes", main="records")
            records, early = decided.records, decided.outcomes
        unique = (
            records
            | "OneCopyPerId" >> beam.CombinePerKey(CopiesFn())  # per block of fullnames
            | "BestCopy" >> beam.ParDo(OneCopy()).with_output_types(keyed).with_outputs("outcomes", main="keyed")
        )
        threads = unique.keyed | "Threads" >> beam.CombinePerKey(ThreadsPerBlockFn(config.top_n + SPARE_REPLIES))
        made = threads | "MakePairs" >> beam.ParDo(MakePairs(config)).with_outputs("fates", main="pairs")
        deduped = made.pairs | "DedupPairs" >> accounting.DedupPairs(candidate_fates=False, rows=True, fates=False)
        used = deduped["pair_rows"] | "UsedFates" >> beam.ParDo(UsedFates())
        corrections = (
            (made.fates, used)
            | "AllFates" >> beam.Flatten()
            | "FatesPerBlock" >> beam.CombinePerKey(FateBlockFn())
            | "Resolve" >> beam.ParDo(BlockCorrections()).with_outputs(accounting.CountsPerBundle.OUTCOMES,
                                                                          main="none")
        )[accounting.CountsPerBundle.OUTCOMES]
        counted = (
            (unique.outcomes, corrections)
            | "KeptOutcomes" >> beam.Flatten()
            | "Net" >> accounting.NetOutcomes()
        )
        outcomes = (early, counted) | "Outcomes" >> beam.Flatten()
        return {"pair_rows": deduped["pair_rows"], "outcomes": outcomes}


class _Parser:
    """Picklable parse callable bound to a config: (raw line, path) -> typed post."""

    def __init__(self, config: reddit.RedditConfig):
        self._config = config

    def __call__(self, raw: bytes, _path: str) -> reddit.RedditPost:
        return reddit.decode_line(raw, self._config)  # its cleanup is counted by pipelines.read.ParseBatch


JOB = job.SourceJob(
    name=reddit.SOURCE,
    options_class=RedditOptions,
    reader=lambda config: LineFileReader(reddit.SOURCE, config.max_line_bytes),
    parse=_Parser,
    extract=ExtractRedditPairs,
    decide=Decide,
)


build_pipeline, run, main = job.entry_points(JOB)


if __name__ == "__main__":
    # Run the job of the module imported under its own name: a class defined here then pickles as
    # pipelines.reddit.X, which SDK workers (multi-processing, Dataflow) import; __main__.X they cannot.
    from pipelines import reddit as job_module

    job_module.main()
