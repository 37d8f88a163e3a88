"""Metric values checked against numbers worked out by hand (see comments)."""

import pytest

from model.metrics import evaluate_run, mrr_at_k, ndcg_at_k, rank_documents, recall_at_k

JUDGED = {"d1": 2, "d2": 1, "d3": 0, "d4": 1}  # d3 judged non-relevant
RANKING = ["d3", "d1", "d5", "d2"]  # d5 unjudged


def test_ndcg_by_hand():
    # DCG  = 0/log2(2) + 2/log2(3) + 0/log2(4) + 1/log2(5) = 1.26186 + 0.43068 = 1.69254
    # IDCG = 2/log2(2) + 1/log2(3) + 1/log2(4)             = 2 + 0.63093 + 0.5 = 3.13093
    assert ndcg_at_k(RANKING, JUDGED, 10) == pytest.approx(0.5405858, abs=1e-6)
    # cut at 2: DCG = 1.26186; IDCG@2 = 2.63093
    assert ndcg_at_k(RANKING, JUDGED, 2) == pytest.approx(1.2618595 / 2.6309298, abs=1e-6)
    assert ndcg_at_k(["d1", "d2", "d4"], JUDGED, 10) == pytest.approx(1.0)
    assert ndcg_at_k(["d1"], {"d1": 0}, 10) == 0.0


def test_recall_by_hand():
    assert recall_at_k(RANKING, JUDGED, 100) == pytest.approx(2 / 3)  # d1, d2 of {d1, d2, d4}
    assert recall_at_k(RANKING, JUDGED, 2) == pytest.approx(1 / 3)


def test_mrr_by_hand():
    assert mrr_at_k(RANKING, JUDGED, 10) == 0.5  # first relevant (d1) at rank 2; d3 has grade 0
    assert mrr_at_k(RANKING, JUDGED, 1) == 0.0


def test_trec_eval_tie_break():
    assert rank_documents({"a": 1.0, "c": 0.5, "b": 1.0}) == ["b", "a", "c"]


def test_mean_skips_unjudged_queries_and_counts_missed_ones():
    qrels = {"q1": JUDGED, "q2": {"d9": 1}, "q3": {}}
    run = {"q1": {"d3": 0.9, "d1": 0.8, "d5": 0.7, "d2": 0.6}, "q2": {"d1": 0.5}, "q3": {"d1": 1.0}}
    m = evaluate_run(run, qrels)
    assert m["queries"] == 2
    assert m["ndcg@10"] == pytest.approx(0.5405858 / 2, abs=1e-6)
    assert m["recall@100"] == pytest.approx((2 / 3) / 2)
    assert m["mrr@10"] == pytest.approx(0.25)


def random_qrels_and_run(seed, n_queries=60, n_docs=300):
    """Graded judgments (0-3), queries whose judgments are all 0, many tied scores, runs > 100 docs."""
    import random

    rng = random.Random(seed)
    docs = [f"d{i:03d}" for i in range(n_docs)]
    qrels, run = {}, {}
    for q in range(n_queries):
        qid = f"q{q:02d}"
        judged = rng.sample(docs, rng.randint(1, 25))
        no_relevant = q % 7 == 0
        qrels[qid] = {d: 0 if no_relevant else rng.choice([0, 0, 1, 2, 3]) for d in judged}
        retrieved = rng.sample(docs, rng.randint(1, 160))
        run[qid] = {d: rng.randint(0, 12) / 4 for d in retrieved}  # 13 distinct scores: ties everywhere
    return qrels, run


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_agrees_with_trec_eval(seed):
    """nDCG@10, Recall@100 and MRR@10 equal pytrec_eval's (trec_eval's own code), query by query."""
    pytrec_eval = pytest.importorskip("pytrec_eval")

    qrels, run = random_qrels_and_run(seed)
    reference = pytrec_eval.RelevanceEvaluator(qrels, {"ndcg_cut.10", "recall.100", "recip_rank"}).evaluate(run)
    assert set(reference) == set(qrels)  # every query is scored, those without relevant docs included
    for qid, expected in reference.items():
        ranking = rank_documents(run[qid])
        rr = expected["recip_rank"]
        assert ndcg_at_k(ranking, qrels[qid], 10) == pytest.approx(expected["ndcg_cut_10"], abs=1e-9), qid
        assert recall_at_k(ranking, qrels[qid], 100) == pytest.approx(expected["recall_100"], abs=1e-9), qid
        # recip_rank has no cut; the first relevant document is in the top 10 iff 1/rr <= 10.
        assert mrr_at_k(ranking, qrels[qid], 10) == pytest.approx(rr if rr >= 0.1 else 0.0, abs=1e-9), qid
        assert mrr_at_k(ranking, qrels[qid], len(ranking)) == pytest.approx(rr, abs=1e-9), qid

    means = evaluate_run(run, qrels)
    for ours, theirs in (("ndcg@10", "ndcg_cut_10"), ("recall@100", "recall_100")):
        assert means[ours] == pytest.approx(sum(r[theirs] for r in reference.values()) / len(reference), abs=1e-9)
