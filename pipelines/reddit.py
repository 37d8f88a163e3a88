"""Reddit pipeline: Pushshift RS_/RC_ dumps -> (post, comment) and (comment, reply) pairs.

    python -m pipelines.reddit --input 'RC_*.zst' --input 'RS_*.zst' --output out/ [--top_n 1]

On the shared job (pipelines.job): files of NDJSON lines -> typed posts -> ExtractRedditPairs:
filter (Reddit's rules, fused with the parse: a dropped post leaves only its outcome and a key
marker) -> one copy per fullname -> per parent key one combiner holding the parent and its top-N
replies -> pairs -> dedup by pair_id. Between stages a post is a slim Node row (RowCoder), not a
pickled dataclass. Records in no pair get their reason (parent_missing, parent_dropped,
not_top_reply, no_reply) through per-record fate resolution.
"""

from typing import NamedTuple, Optional, Tuple

import apache_beam as beam

from pipelines import accounting, job
from pipelines.options import source_options
from pipelines.read import LineFileReader
from pipelines.transforms import dropped_outcome
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
    """A kept post as it travels between the keyed stages: only what the joins and the pair need,
    encoded by Beam's RowCoder (a schema'd row, not a pickled dataclass). `raw_text` is the raw
    text where it differs from `text` (the copy rank reads it; None once a copy is chosen or when
    equal); `refusal` why it may not be a passage ("" if it may; submissions "submission")."""

    role: int
    fullname: str
    parent: str  # "" for submissions
    subreddit: str
    raw_text: Optional[str]
    text: str
    score: Optional[int]
    created_utc: Optional[int]
    refusal: str


beam.coders.registry.register_coder(Node, beam.coders.RowCoder)
NODE_CODER = beam.coders.registry.get_coder(Node)
SUBMISSION = "submission"


def _node(post: reddit.RedditPost, config: reddit.RedditConfig) -> Node:
    refusal = (reddit.reply_refusal(post, config) or "") if post.is_comment else SUBMISSION
    return Node(PARENT, post.fullname, post.parent or "", post.subreddit,
                None if post.raw_text == post.text else post.raw_text, post.text, post.score, post.created_utc,
                refusal)


def _dropped_marker(fullname: str) -> Node:
    return Node(DROPPED, fullname, "", "", None, "", None, None, "")


class FilterPosts(beam.DoFn):
    """Typed posts (fused with the read's parse) -> (fullname, Node) of kept posts and (fullname,
    dropped marker) of dropped ones, one keyed stream; a drop's outcome on "outcomes"."""

    def __init__(self, config: reddit.RedditConfig):
        self._config = config

    def process(self, post: reddit.RedditPost):
        config = self._config
        reason = reddit.drop_reason(post, config)
        if reason is None:
            yield (post.fullname, _node(post, config))
            return
        if reason == reasons.DROP_BOT_AUTHOR:
            accounting.count_cleanup(reddit.bot_rule(post.author, config))
        yield dropped_outcome(reason)
        yield (post.fullname, _dropped_marker(post.fullname))


class OneCopy(beam.DoFn):
    """(fullname, [Node]) -> the best copy as a parent (keyed by itself) and, for a comment that may
    be a passage, as a reply (keyed by its parent); a fullname that was only dropped -> its marker,
    so its replies learn it; the post's default fate ("fates"); duplicate_record per other copy."""

    def process(self, kv):
        key, nodes = kv
        kept = [n for n in nodes if n.role != DROPPED]
        if not kept:
            yield (key, _dropped_marker(key))
            return
        best = max(kept, key=copy_rank) if len(kept) > 1 else kept[0]
        for _ in range(len(kept) - 1):
            yield dropped_outcome(reasons.DROP_DUPLICATE_RECORD)
        best = Node(PARENT, best.fullname, best.parent, best.subreddit, None, best.text, best.score,
                    best.created_utc, best.refusal)
        yield (key, best)
        if best.refusal == SUBMISSION:
            yield beam.pvalue.TaggedOutput("fates", (key, reasons.DROP_NO_REPLY))
            return
        yield beam.pvalue.TaggedOutput("fates", (key, best.refusal or reasons.DROP_NOT_TOP_REPLY))
        if not best.refusal:
            yield (best.parent, Node(REPLY, *best[1:]))


class ThreadFn(beam.CombineFn):
    """Per parent key: (parent Node or None, dropped, its best `cap` replies best first, the other
    replies' fullnames while no parent is seen). A combiner, so a thread of 100k comments never
    sits in one list once its parent is known; the fullnames are kept only for a parent that is
    absent (each such reply gets parent_missing or parent_dropped)."""

    def __init__(self, cap: int):
        self._cap = cap

    def create_accumulator(self):
        return (None, False, [], [])

    def _capped(self, node, top, others):
        top.sort(key=reddit.reply_rank_key, reverse=True)
        if len(top) > self._cap:
            if node is None:
                others = others + [r.fullname for r in top[self._cap:]]
            del top[self._cap:]
        return top, ([] if node is not None else others)

    def add_input(self, acc, entry):
        node, dropped, top, others = acc
        if entry.role == REPLY:
            top, others = self._capped(node, top + [entry], others)
        elif entry.role == PARENT:
            node, others = entry, []
        else:
            dropped = True
        return (node, dropped, top, others)

    def merge_accumulators(self, accs):
        node, dropped, top, others = None, False, [], []
        for a_node, a_dropped, a_top, a_others in accs:
            node = node if a_node is None else a_node
            dropped = dropped or a_dropped
            top = top + list(a_top)
            others = others + list(a_others)
        top, others = self._capped(node, top, others)
        return (node, dropped, top, others)

    def compact(self, acc):
        return acc

    def extract_output(self, acc):
        return acc

    def get_accumulator_coder(self):
        return beam.coders.TupleCoder([
            beam.coders.NullableCoder(NODE_CODER), beam.coders.BooleanCoder(),
            beam.coders.ListCoder(NODE_CODER), beam.coders.ListCoder(beam.coders.StrUtf8Coder())])


class MakePairs(beam.DoFn):
    """A thread (parent, its top_n + SPARE_REPLIES best replies) -> pairs of its top_n best usable
    replies; a reply left too short once cut of what it copies from its query -> a repeats_query
    fate (tagged "fates"); the replies of an absent parent -> parent_missing or parent_dropped.
    Spares not needed keep their default fate (not_top_reply)."""

    def __init__(self, config: reddit.RedditConfig):
        self._config = config

    def process(self, thread):
        _, (parent, dropped, replies, others) = thread
        if parent is None:
            fate = reasons.DROP_PARENT_DROPPED if dropped else reasons.DROP_PARENT_MISSING
            for reply in replies:
                yield beam.pvalue.TaggedOutput("fates", (reply.fullname, fate))
            for fullname in others:
                yield beam.pvalue.TaggedOutput("fates", (fullname, fate))
            return
        made = 0
        for reply in replies:
            if made == self._config.top_n:
                return
            passage, cut = reddit.reply_passage(parent, reply, self._config)
            if cut:
                accounting.count_cleanup(reddit.COPIED_QUERY_WORDS_CUT, cut)
            if passage is None:
                yield beam.pvalue.TaggedOutput("fates", (reply.fullname, reasons.DROP_REPEATS_QUERY))
                continue
            lang = "en" if self._config.english_only else _detect(passage)
            made += 1
            yield reddit.make_reddit_pair(parent, reply, lang, passage)


def _detect(text: str) -> str:
    from sources.text.langid import detect_language

    return detect_language(text)[0]


class ExtractRedditPairs(beam.PTransform):
    """Typed posts -> {"pairs", "outcomes"}: every post gets exactly one outcome.

    Three keyed stages, each carrying a slim Node (RowCoder): one copy per fullname (GroupByKey:
    a fullname has a copy or two, never hot), the thread per parent key (a combiner: the parent
    and its top_n + SPARE_REPLIES replies), then the pair dedup and the fate resolution (small
    (id, fate) tuples)."""

    def __init__(self, config: reddit.RedditConfig):
        super().__init__()
        self._config = config

    def expand(self, posts):
        config = self._config
        keyed = Tuple[str, Node]  # the main outputs' type: Beam encodes them with the Node RowCoder
        filtered = posts | "Filter" >> beam.ParDo(FilterPosts(config)).with_output_types(keyed).with_outputs(
            "outcomes", main="keyed")
        unique = (
            filtered.keyed
            | "OneCopyPerId" >> beam.GroupByKey()
            | "BestCopy" >> beam.ParDo(OneCopy()).with_output_types(keyed).with_outputs(
                "outcomes", "fates", main="keyed")
        )
        threads = unique.keyed | "Threads" >> beam.CombinePerKey(ThreadFn(config.top_n + SPARE_REPLIES))
        made = threads | "MakePairs" >> beam.ParDo(MakePairs(config)).with_outputs("fates", main="pairs")
        deduped = made.pairs | "DedupPairs" >> accounting.DedupPairs()
        resolved = (
            (unique.fates, made.fates, deduped["fates"])
            | "AllFates" >> beam.Flatten()
            | "Resolve" >> accounting.ResolveFates(FATE_PRIORITY)
        )
        outcomes = (filtered.outcomes, unique.outcomes, resolved) | "Outcomes" >> beam.Flatten()
        return {"pairs": deduped["pairs"], "outcomes": outcomes}


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
)


build_pipeline, run, main = job.entry_points(JOB)


if __name__ == "__main__":
    main()
