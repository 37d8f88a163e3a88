"""Reddit pipeline: Pushshift RS_/RC_ dumps -> (post, comment) and (comment, reply) pairs.

    python -m pipelines.reddit --input 'RC_*.zst' --input 'RS_*.zst' --output out/ [--top_n 1]

Graph: read -> reshuffle lines -> parse (rejects) + filters (drop reasons) -> dedup by fullname -> per parent one
combiner holds the parent and its top-N replies (a 100k-comment thread never sits in memory)
-> pairs -> dedup by pair_id -> versioned sink. Records that end up in no pair get their reason
(parent_missing, parent_dropped, not_top_reply, no_reply) through a per-record fate resolution.
"""

import dataclasses
import heapq
import logging
from typing import List, Optional

import apache_beam as beam

from pipelines import accounting as A
from pipelines.inputs import ReadRecords, expand_inputs
from pipelines.job import run_source_job, write_source_version
from pipelines.options import CcpairsOptions
from pipelines.sink import prepare_version_dir, version_dir
from schemas import reasons as R
from sources import reddit as S

FATE_PRIORITY = [R.USED, R.DROP_DUPLICATE_PAIR, R.DROP_PARENT_DROPPED, R.DROP_PARENT_MISSING,
                 R.DROP_NOT_TOP_REPLY, R.DROP_NO_REPLY]


class RedditOptions(CcpairsOptions):
    @classmethod
    def _add_argparse_args(cls, parser):
        d = S.RedditConfig()
        parser.add_argument("--top_n", type=int, default=d.top_n, help="replies kept per parent")
        parser.add_argument("--min_score", type=int, default=d.min_score)
        parser.add_argument("--max_passage_chars", type=int, default=d.max_passage_chars)
        parser.add_argument("--min_comment_chars", type=int, default=d.min_comment_chars)
        parser.add_argument("--min_submission_chars", type=int, default=d.min_submission_chars)
        parser.add_argument("--drop_nsfw", action="store_true", default=d.drop_nsfw)
        parser.add_argument("--any_language", action="store_true", default=False,
                            help="keep non-English text (the pair's lang column says which)")
        parser.add_argument("--no_selftext", action="store_true", default=False,
                            help="query is the post title only")
        parser.add_argument("--keep_removed_submissions", action="store_true", default=False)
        parser.add_argument("--keep_bots", action="store_true", default=False)


def config_from_options(options) -> S.RedditConfig:
    o = options.view_as(RedditOptions)
    return S.RedditConfig(
        top_n=o.top_n, min_score=o.min_score, max_passage_chars=o.max_passage_chars,
        min_comment_chars=o.min_comment_chars, min_submission_chars=o.min_submission_chars,
        drop_nsfw=o.drop_nsfw, english_only=not o.any_language, include_selftext=not o.no_selftext,
        drop_removed_submissions=not o.keep_removed_submissions, drop_bots=not o.keep_bots)


def config_as_dict(config: S.RedditConfig) -> dict:
    return {k: sorted(v) if isinstance(v, frozenset) else v for k, v in dataclasses.asdict(config).items()}


class KeepOneRecord(beam.CombineFn):
    """Same fullname seen more than once (overlapping dumps): keep the best-scored copy, count the rest."""

    def create_accumulator(self):
        return (None, 0)

    def add_input(self, acc, post):
        return self.merge_accumulators([acc, (post, 1)])

    def merge_accumulators(self, accs):
        best, n = None, 0
        for post, k in accs:
            n += k
            if post is not None and (best is None or _copy_key(post) > _copy_key(best)):
                best = post
        return (best, n)

    def extract_output(self, acc):
        return acc


def _copy_key(post: S.RedditPost):
    return (post.score if post.score is not None else -(2**62), post.raw_text, post.created_utc or 0)


class ParentWithTopReplies(beam.CombineFn):
    """Per parent fullname: the parent (if kept) and its top-N replies, in bounded memory."""

    def __init__(self, top_n: int):
        self._n = top_n

    def create_accumulator(self):
        return (None, [])  # (parent, heap of (rank_key, reply))

    def add_input(self, acc, tagged):
        role, post = tagged
        parent, heap = acc
        if role == "parent":
            return (post, heap)
        item = (S.reply_rank_key(post), post)
        if len(heap) < self._n:
            heapq.heappush(heap, item)
        elif item[0] > heap[0][0]:
            heapq.heapreplace(heap, item)
        return (parent, heap)

    def merge_accumulators(self, accs):
        parent, merged = None, []
        for p, heap in accs:
            parent = parent or p
            merged.extend(heap)
        return (parent, heapq.nlargest(self._n, merged, key=lambda item: item[0]))

    def extract_output(self, acc):
        parent, heap = acc
        return parent, [post for _, post in sorted(heap, key=lambda item: item[0], reverse=True)]


class FilterPosts(beam.DoFn):
    """Kept posts out the main output; dropped ones as outcome strings and as keys for the parent check."""

    def __init__(self, config: S.RedditConfig):
        self._config = config

    def process(self, post: S.RedditPost):
        reason = S.drop_reason(post, self._config)
        if reason is None:
            yield post
            return
        outcome = A.dropped(reason)
        A.count(outcome)
        yield beam.pvalue.TaggedOutput("outcomes", outcome)
        yield beam.pvalue.TaggedOutput("dropped_keys", post.fullname)


def _pairs_of(kv, config: S.RedditConfig):
    _, (parent, replies) = kv
    if parent is None:
        return
    for reply in replies:
        lang = "en" if config.english_only else _detect(reply.text)
        yield S.make_reddit_pair(parent, reply, lang)


def _detect(text: str) -> str:
    from sources.langid import detect_language

    return detect_language(text)[0]


def _parent_check(kv):
    """(parent fullname, {kept, dropped, children}) -> (child, parent_missing|parent_dropped)."""
    _, groups = kv
    if groups["kept"]:
        return
    fate = R.DROP_PARENT_DROPPED if groups["dropped"] else R.DROP_PARENT_MISSING
    for child in groups["children"]:
        yield (child, fate)


def _emit_duplicates(kv):
    _, (post, n) = kv
    for _ in range(n - 1):
        A.count(A.dropped(R.DROP_DUPLICATE_RECORD))
        yield beam.pvalue.TaggedOutput("outcomes", A.dropped(R.DROP_DUPLICATE_RECORD))
    yield post


class ExtractRedditPairs(beam.PTransform):
    """Typed posts -> {"pairs", "outcomes"}: every post gets exactly one outcome."""

    def __init__(self, config: S.RedditConfig):
        super().__init__()
        self._config = config

    def expand(self, posts):
        config = self._config
        # Filter first (fused with parsing, spread over workers), so only kept posts are shuffled.
        filtered = posts | "Filter" >> beam.ParDo(FilterPosts(config)).with_outputs(
            "outcomes", "dropped_keys", main="kept")
        unique = (
            filtered.kept
            | "KeyByFullname" >> beam.Map(lambda p: (p.fullname, p))
            | "OneCopyPerId" >> beam.CombinePerKey(KeepOneRecord())
            | "CountDuplicates" >> beam.FlatMap(_emit_duplicates).with_outputs("outcomes", main="posts")
        )
        kept = unique.posts
        comments = kept | "Comments" >> beam.Filter(lambda p: p.is_comment)

        as_parent = kept | "AsParent" >> beam.Map(lambda p: (p.fullname, ("parent", p)))
        as_reply = comments | "AsReply" >> beam.Map(lambda p: (p.parent, ("reply", p)))
        threads = (
            (as_parent, as_reply)
            | "ParentsAndReplies" >> beam.Flatten()
            | "TopRepliesPerParent" >> beam.CombinePerKey(ParentWithTopReplies(config.top_n))
        )
        candidates = threads | "MakePairs" >> beam.FlatMap(_pairs_of, config)
        deduped = candidates | "DedupPairs" >> A.DedupPairs()

        # Why a post is in no pair: its parent is absent or filtered out (ids only, so a hot
        # thread costs a stream of keys, not records), else it lost to better replies.
        parent_fates = (
            {
                "kept": kept | "KeptKeys" >> beam.Map(lambda p: (p.fullname, 1)),
                "dropped": filtered.dropped_keys | "DroppedKeys" >> beam.Map(lambda k: (k, 1)),
                "children": comments | "ChildOfParent" >> beam.Map(lambda p: (p.parent, p.fullname)),
            }
            | "JoinParents" >> beam.CoGroupByKey()
            | "ParentCheck" >> beam.FlatMap(_parent_check)
        )
        default_fates = kept | "DefaultFate" >> beam.Map(
            lambda p: (p.fullname, R.DROP_NOT_TOP_REPLY if p.is_comment else R.DROP_NO_REPLY))
        resolved = (
            (default_fates, parent_fates, deduped["fates"])
            | "AllFates" >> beam.Flatten()
            | "Resolve" >> A.ResolveFates(FATE_PRIORITY)
        )
        outcomes = (unique.outcomes, filtered.outcomes, resolved) | "Outcomes" >> beam.Flatten()
        return {"pairs": deduped["pairs"], "outcomes": outcomes}


def build_pipeline(pipeline: beam.Pipeline, options) -> None:
    own = options.view_as(RedditOptions)
    config = config_from_options(options)
    inputs = expand_inputs(own.input)
    out_dir = version_dir(own.output, S.SOURCE, own.dataset_version)
    prepare_version_dir(out_dir, own.overwrite)

    parse = _Parser(config)
    read = pipeline | "Read" >> ReadRecords(S.SOURCE, [i["path"] for i in inputs], parse)
    extracted = read["records"] | "Extract" >> ExtractRedditPairs(config)
    write_source_version(read, extracted, directory=out_dir, dataset=S.SOURCE, version=own.dataset_version,
                         inputs=inputs, num_shards=own.num_shards, options=config_as_dict(config))


class _Parser:
    """Picklable parse callable bound to a config."""

    def __init__(self, config: S.RedditConfig):
        self._config = config

    def __call__(self, raw: bytes) -> S.RedditPost:
        return S.decode_line(raw, self._config)


def run(argv: Optional[List[str]] = None) -> str:
    """Build and run; returns the version directory."""
    return run_source_job(argv, RedditOptions, build_pipeline, S.SOURCE)


if __name__ == "__main__":
    logging.getLogger().setLevel(logging.INFO)
    print(run())
