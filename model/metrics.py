"""Ranking metrics as BEIR reports them (pytrec_eval / trec_eval definitions).

- Relevance is graded; a judgment of 0 (or below) is non-relevant. Unjudged documents count 0.
- nDCG@k (trec_eval ndcg_cut): DCG = sum over ranks i=1..k of rel_i / log2(i + 1), linear gain;
  the ideal DCG ranks all judged relevant documents by grade; nDCG = DCG / ideal (0 if no relevant).
- Recall@k: relevant documents in the top k / all relevant documents of the query.
- MRR@k (recip_rank cut at k): 1 / rank of the first relevant document in the top k, else 0.
- Means are over queries that have judgments; queries without any judgment are skipped (BEIR),
  a judged query with no retrieved relevant document counts 0.
- Ties in score are broken like trec_eval: higher score first, then document id descending.
"""

from __future__ import annotations

import math
from typing import Dict, List, Mapping, Sequence

Qrels = Mapping[str, Mapping[str, int]]
Run = Mapping[str, Mapping[str, float]]


def rank_documents(scores: Mapping[str, float]) -> List[str]:
    """Doc ids best first, trec_eval order (score desc, then doc id desc)."""
    return [d for d, _ in sorted(scores.items(), key=lambda kv: (kv[1], kv[0]), reverse=True)]


def ndcg_at_k(ranking: Sequence[str], judgments: Mapping[str, int], k: int) -> float:
    dcg = sum(max(judgments.get(d, 0), 0) / math.log2(i + 2) for i, d in enumerate(ranking[:k]))
    ideal_gains = sorted((g for g in judgments.values() if g > 0), reverse=True)[:k]
    ideal = sum(g / math.log2(i + 2) for i, g in enumerate(ideal_gains))
    return dcg / ideal if ideal > 0 else 0.0


def recall_at_k(ranking: Sequence[str], judgments: Mapping[str, int], k: int) -> float:
    relevant = {d for d, g in judgments.items() if g > 0}
    if not relevant:
        return 0.0
    return len(relevant.intersection(ranking[:k])) / len(relevant)


def mrr_at_k(ranking: Sequence[str], judgments: Mapping[str, int], k: int) -> float:
    for i, d in enumerate(ranking[:k]):
        if judgments.get(d, 0) > 0:
            return 1.0 / (i + 1)
    return 0.0


def evaluate_run(run: Run, qrels: Qrels, ndcg_k: int = 10, recall_k: int = 100, mrr_k: int = 10) -> Dict[str, float]:
    """Mean metrics over judged queries; a judged query missing from the run scores 0."""
    judged = [q for q, j in qrels.items() if j]
    if not judged:
        raise ValueError("no judged queries")
    totals = {f"ndcg@{ndcg_k}": 0.0, f"recall@{recall_k}": 0.0, f"mrr@{mrr_k}": 0.0}
    for qid in judged:
        ranking = rank_documents(run.get(qid, {}))
        totals[f"ndcg@{ndcg_k}"] += ndcg_at_k(ranking, qrels[qid], ndcg_k)
        totals[f"recall@{recall_k}"] += recall_at_k(ranking, qrels[qid], recall_k)
        totals[f"mrr@{mrr_k}"] += mrr_at_k(ranking, qrels[qid], mrr_k)
    metrics = {name: value / len(judged) for name, value in totals.items()}
    metrics["queries"] = len(judged)
    return metrics


def per_query_ndcg(run: Run, qrels: Qrels, k: int = 10) -> Dict[str, float]:
    """nDCG@k of each judged query (what evaluate_run averages), for paired comparisons of two runs."""
    return {qid: ndcg_at_k(rank_documents(run.get(qid, {})), judgments, k) for qid, judgments in qrels.items()
            if judgments}


def paired_bootstrap(before: Mapping[str, float], after: Mapping[str, float], rounds: int = 2000,
                     seed: int = 0) -> Dict[str, float]:
    """Mean per-query difference after - before, with the 2.5th and 97.5th percentiles of that mean
    over `rounds` resamplings of the queries: on 40 queries a difference inside this interval's span
    is noise, whatever the means say. Deterministic for a seed."""
    import random

    queries = sorted(set(before) & set(after))
    if not queries:
        raise ValueError("no query scored in both runs")
    diffs = [after[q] - before[q] for q in queries]
    rng = random.Random(seed)
    means = sorted(sum(rng.choice(diffs) for _ in diffs) / len(diffs) for _ in range(rounds))
    return {"difference": sum(diffs) / len(diffs), "low": means[int(0.025 * rounds)],
            "high": means[min(int(0.975 * rounds), rounds - 1)], "queries": len(queries)}
