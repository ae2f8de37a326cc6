"""Churn/CLV training, scoring and LIME explanation times on the bundled data. Prints figures only.

Usage: python benchmarks/bench_predict.py
Targets (2-core machine): train both models < 20 s, score all customers < 1 s, one explanation < 3 s.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def main() -> None:
    import polars as pl

    from analytics.datasets import open_dataset
    from analytics.explain import SegmentSurrogate, explain_prediction
    from analytics.features import customer_features, default_as_of
    from analytics.predict import fit_models, predict
    from analytics.segmentation import Segmenter

    tx = open_dataset().transactions
    end = default_as_of(tx)
    models, t_train = timed(lambda: fit_models(tx, end, 90))
    result, t_predict = timed(lambda: predict(tx, horizon_days=90))
    scoring = result.scoring
    _, t_score = timed(lambda: (models.churn_probability(scoring), models.clv(scoring)))
    ids = scoring["customer_id"].head(5).to_list()
    churn_times, clv_times = [], []
    for cid in ids:
        row = scoring.filter(pl.col("customer_id") == cid)
        churn_times.append(timed(lambda r=row: explain_prediction(result.models, r, "churn"))[1])
        clv_times.append(timed(lambda r=row: explain_prediction(result.models, r, "clv"))[1])
    features = customer_features(tx)
    seg = Segmenter(n_clusters=4).fit(features)
    surrogate, t_surrogate = timed(
        lambda: SegmentSurrogate().fit(features, seg.labels_, seg.features_)
    )
    seg_times = [
        timed(lambda i=i: surrogate.explain(features[i : i + 1], int(seg.labels_[i]), "segment"))[1]
        for i in range(5)
    ]
    print(f"Churn and CLV on the bundled data ({scoring.height:,} customers scored)")
    print(
        f"  train churn + CLV models ({models.training_rows:,} snapshots, {len(models.cutoffs)} cutoffs)  {t_train:6.2f} s   target < 20 s"
    )
    print(f"  full predict: BG/NBD + backtest + training + scoring             {t_predict:6.2f} s")
    print(
        f"  score all customers (churn + CLV)                                {t_score:6.3f} s   target < 1 s"
    )
    print(
        f"  LIME churn explanation, median of 5                              {statistics.median(churn_times):6.3f} s   target < 3 s"
    )
    print(
        f"  LIME CLV explanation, median of 5                                {statistics.median(clv_times):6.3f} s   target < 3 s"
    )
    print(
        f"  segment surrogate fit (with 3-fold accuracy {surrogate.accuracy_:.3f})         {t_surrogate:6.2f} s"
    )
    print(
        f"  LIME segment explanation, median of 5                            {statistics.median(seg_times):6.3f} s   target < 3 s"
    )


if __name__ == "__main__":
    main()
