"""Generated Pushshift-format dumps (RS_/RC_ NDJSON, zstd with a long window) for demos and benchmarks.

The mix exercises every rule: good threads, deleted and removed content, bots, low scores,
link-only and non-English comments, a 2005-era field set next to a 2019 one, and one line that
is not JSON. Same arguments, same bytes.
"""

import json
import os
import random
from typing import Dict, Iterator, List, Tuple

import zstandard

from sources.demo_inputs.topics import NON_ENGLISH, OFF_TOPIC, TOPICS, answer, make_anchor, question

BASE_TIME = 1_564_617_600  # 2019-08-01T00:00:00Z


def _b36(n: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = digits[r] + out
        if n == 0:
            return out


def _submission(i: int, rng: random.Random, topic: str, anchor: str) -> Dict:
    title = question(rng, topic, anchor)
    selftext = rng.choice(["", "", "I searched the sub but found nothing recent. " + answer(rng, topic)[:80]])
    if rng.random() < 0.05:
        selftext = "[removed]"
    return {
        "id": _b36(10_000 + i), "title": title, "selftext": selftext, "subreddit": topic,
        "author": f"user{rng.randrange(5000)}", "score": rng.randrange(0, 200), "created_utc": BASE_TIME + i * 60,
        "over_18": False, "is_self": True, "num_comments": 0, "removed_by_category": None,
        "permalink": f"/r/{topic}/comments/{_b36(10_000 + i)}/", "stickied": False,
    }


def _comment(cid: int, parent: str, link: str, topic: str, anchor: str, rng: random.Random, t: int,
             old_era: bool) -> Dict:
    roll = rng.random()
    author = f"user{rng.randrange(5000)}"
    body = answer(rng, topic, anchor)
    score = rng.randrange(1, 60)
    if roll < 0.05:
        body, author = "[deleted]", "[deleted]"
    elif roll < 0.08:
        body, author = "This post has been flaired. Please read the rules of r/" + topic + ".", "AutoModerator"
    elif roll < 0.12:
        score = rng.randrange(-10, 1)
    elif roll < 0.14:
        body = "https://imgur.com/" + _b36(rng.randrange(10**9))
    elif roll < 0.16:
        body = rng.choice(NON_ENGLISH)
    elif roll < 0.19:
        body = rng.choice(OFF_TOPIC)
    record = {"id": _b36(cid), "body": body, "parent_id": parent, "link_id": link, "author": author,
              "score": score, "created_utc": t, "subreddit": topic}
    if old_era:  # 2005-style: ups and retrieved_on, created_utc as a string in some dumps
        record.update({"ups": score, "retrieved_on": t + 10**7, "created_utc": str(t)})
    else:
        record.update({"permalink": f"/r/{topic}/comments/{link[3:]}/_/{_b36(cid)}/", "collapsed": False,
                       "author_fullname": "t2_" + _b36(rng.randrange(10**6)), "all_awardings": []})
    return record


def generate(n_threads: int, seed: int = 0, max_comments: int = 8) -> Tuple[List[Dict], List[Dict]]:
    """(submissions, comments): each thread has top-level comments and some replies."""
    rng = random.Random(seed)
    topics = sorted(TOPICS)
    submissions, comments = [], []
    cid = 1_000_000
    for i in range(n_threads):
        topic = topics[i % len(topics)]
        anchor = make_anchor(rng)
        sub = _submission(i, rng, topic, anchor)
        submissions.append(sub)
        link = "t3_" + sub["id"]
        top_level = []
        for j in range(rng.randrange(1, max_comments + 1)):
            cid += 1
            c = _comment(cid, link, link, topic, anchor, rng, sub["created_utc"] + 30 * (j + 1), old_era=i % 7 == 0)
            comments.append(c)
            top_level.append(c)
        for parent in top_level:
            if rng.random() < 0.4:
                cid += 1
                comments.append(_comment(cid, "t1_" + parent["id"], link, topic, anchor, rng,
                                         sub["created_utc"] + 3600, old_era=i % 7 == 0))
    return submissions, comments


def write_zst_ndjson(path: str, records: Iterator, extra_lines: List[bytes] = ()) -> None:
    """NDJSON compressed the way Pushshift does it: zstd with a 2 GiB window (--long=31)."""
    params = zstandard.ZstdCompressionParameters.from_level(3, window_log=31)
    with open(path, "wb") as fh, zstandard.ZstdCompressor(compression_params=params).stream_writer(fh) as out:
        for record in records:
            out.write(json.dumps(record, separators=(",", ":")).encode("utf-8") + b"\n")
        for line in extra_lines:
            out.write(line + b"\n")


def write_demo_dumps(directory: str, n_threads: int = 300, seed: int = 0) -> List[str]:
    """RS_demo.zst + RC_demo.zst (with one malformed line); returns the paths."""
    os.makedirs(directory, exist_ok=True)
    submissions, comments = generate(n_threads, seed)
    rs, rc = os.path.join(directory, "RS_demo.zst"), os.path.join(directory, "RC_demo.zst")
    write_zst_ndjson(rs, submissions)
    write_zst_ndjson(rc, comments, extra_lines=[b'{"id": "broken", "body": "cut off mid-rec'])
    return [rs, rc]
