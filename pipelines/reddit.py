"""Reddit pipeline: Pushshift RS_/RC_ dumps -> (post, comment) and (comment, reply) pairs.

    python -m pipelines.reddit --input 'RC_*.zst' --input 'RS_*.zst' --output out/ [--top_n 1]

On the shared job (pipelines.job): files of NDJSON lines -> typed posts -> ExtractRedditPairs:
filter (Reddit's rules) -> one copy per fullname -> per parent its top-N replies (Top.PerKey)
joined with the parent -> pairs -> dedup by pair_id. Records in no pair get their reason
(parent_missing, parent_dropped, not_top_reply, no_reply) through per-record fate resolution.
"""

import apache_beam as beam

from pipelines import accounting, job
from pipelines.options import source_options
from pipelines.read import LineFileReader
from pipelines.transforms import FilterRecords, OneCopyPerKey, TopRepliesPerParent
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


def copy_rank(post: reddit.RedditPost):
    """Same fullname twice (overlapping dumps): the best-scored copy wins, then text, then time."""
    return (post.score if post.score is not None else -(2**62), post.raw_text, post.created_utc or 0)


class _Filter:
    """Picklable drop_reason bound to a config."""

    def __init__(self, config: reddit.RedditConfig):
        self._config = config

    def __call__(self, post: reddit.RedditPost):
        reason = reddit.drop_reason(post, self._config)
        if reason == reasons.DROP_BOT_AUTHOR:
            accounting.count_cleanup(reddit.bot_rule(post.author, self._config))
        return reason


# Replies offered per parent beyond --top_n: a top reply that is only a copy of its query gives
# way to the next one (the copy is seen only once the parent's text is joined).
SPARE_REPLIES = 2


class MakePairs(beam.DoFn):
    """A thread (its top_n + SPARE_REPLIES best replies) -> pairs of its top_n best usable replies;
    a reply left too short once cut of what it copies from its query -> a repeats_query fate
    (tagged "fates"). Spares not needed keep their default fate (not_top_reply)."""

    def __init__(self, config: reddit.RedditConfig):
        self._config = config

    def process(self, thread):
        parent, _, replies = thread
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


def _default_fate(post: reddit.RedditPost, config: reddit.RedditConfig):
    """What a kept post ends as unless a pair uses it."""
    if not post.is_comment:
        return (post.fullname, reasons.DROP_NO_REPLY)
    return (post.fullname, reddit.reply_refusal(post, config) or reasons.DROP_NOT_TOP_REPLY)


class ExtractRedditPairs(beam.PTransform):
    """Typed posts -> {"pairs", "outcomes"}: every post gets exactly one outcome."""

    def __init__(self, config: reddit.RedditConfig):
        super().__init__()
        self._config = config

    def expand(self, posts):
        config = self._config
        filtered = posts | "Filter" >> beam.ParDo(FilterRecords(_Filter(config), lambda p: p.fullname)).with_outputs(
            "outcomes", "dropped_keys", main="kept")
        unique = filtered.kept | "OneCopyPerId" >> OneCopyPerKey(lambda p: p.fullname, copy_rank)
        kept = unique.records
        threads = {
            "parents": kept,
            "replies": kept | "Comments" >> beam.Filter(lambda p: p.is_comment),
            "dropped_keys": filtered.dropped_keys,
        } | "TopReplies" >> TopRepliesPerParent(
            top_n=config.top_n + SPARE_REPLIES, rank=reddit.reply_rank_key, parent_key=lambda p: p.fullname,
            reply_key=lambda p: p.fullname, parent_of=lambda p: p.parent,
            eligible=lambda p, c=config: reddit.may_be_reply(p, c))
        made = threads.threads | "MakePairs" >> beam.ParDo(MakePairs(config)).with_outputs("fates", main="pairs")
        deduped = made.pairs | "DedupPairs" >> accounting.DedupPairs()
        resolved = (
            (kept | "DefaultFate" >> beam.Map(_default_fate, config), threads.fates, made.fates, deduped["fates"])
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
