import datetime as dt

import numpy as np
import pytest

from analytics.btyd import BetaGeo, GammaGamma, ParetoNBD, btyd_forecast, btyd_summary
from analytics.errors import InsufficientDataError
from tests.conftest import toy_log


def bgnbd_histories(n=2000, seed=42):
    """Histories drawn from BG/NBD itself: Gamma(0.5, 20) rates, Beta(1, 3) dropout, 60-180 days."""
    rng = np.random.default_rng(seed)
    lam = rng.gamma(0.5, 1 / 20.0, n)
    p = rng.beta(1.0, 3.0, n)
    T = rng.uniform(60, 180, n).round()
    x = np.zeros(n)
    t_x = np.zeros(n)
    for i in range(n):
        t = 0.0
        while True:
            t += rng.exponential(1 / lam[i])
            if t > T[i]:
                break
            x[i] += 1
            t_x[i] = t
            if rng.random() < p[i]:
                break
    t_x = np.floor(t_x)
    m = np.where(x > 0, rng.gamma(3.0, 1 / rng.gamma(4.0, 1 / 40.0, n)), 0.0)
    return x, t_x, T, m


def test_matches_lifetimes_on_the_same_data():
    """Reference numbers: lifetimes 0.11.3 BetaGeoFitter / GammaGammaFitter, penalizer_coef=0."""
    x, t_x, T, m = bgnbd_histories()
    bgf = BetaGeo(penalizer=0.0).fit(x, t_x, T)
    expected = {"r": 0.48499894, "alpha": 19.70759208, "a": 1.15070958, "b": 3.99287765}
    for name, value in expected.items():
        assert bgf.params_[name] == pytest.approx(value, rel=1e-4), name
    assert bgf.expected_purchases(30, x[:3], t_x[:3], T[:3]) == pytest.approx(
        [0.54594278, 0.05171094, 0.1073328], rel=1e-5
    )
    assert bgf.p_alive(x[:3], t_x[:3], T[:3]) == pytest.approx(
        [0.77805492, 0.21654849, 1.0], rel=1e-5
    )
    ggf = GammaGamma(penalizer=0.0).fit(x, m)
    for name, value in {"p": 2.9230503, "q": 2.07508985, "v": 16.24586159}.items():
        assert ggf.params_[name] == pytest.approx(value, rel=1e-4), name
    assert ggf.expected_spend(x[:3], m[:3]) == pytest.approx(
        [53.61665616, 46.63205264, 44.17069961], rel=1e-5
    )


def test_probability_of_no_purchase_is_consistent():
    x, t_x, T, _ = bgnbd_histories(500, seed=1)
    bgf = BetaGeo().fit(x, t_x, T)
    p0 = bgf.p_no_purchase(90, x, t_x, T)
    assert ((p0 > 0) & (p0 < 1)).all()
    assert (p0 >= 1 - bgf.p_alive(x, t_x, T) - 1e-12).all()
    # more expected purchases, less chance of none
    order = np.argsort(bgf.expected_purchases(90, x, t_x, T))
    assert p0[order[-1]] < p0[order[0]]


def test_summary_by_hand():
    tx = toy_log(
        [
            ("A", "1", "2011-01-01 10:00", "P", 1, 10.0),
            ("A", "2", "2011-01-01 15:00", "P", 1, 5.0),  # same day: one purchase day worth 15
            ("A", "3", "2011-01-11 10:00", "P", 2, 10.0),
            ("A", "4", "2011-01-21 10:00", "P", 1, 40.0),
            ("B", "5", "2011-01-05 10:00", "P", 1, 30.0),
        ]
    )
    summary = btyd_summary(tx, dt.datetime(2011, 2, 1)).sort("customer_id")
    a, b = summary.iter_rows(named=True)
    assert (a["x"], a["t_x"], a["T"], a["m"]) == (2.0, 20.0, 31.0, 30.0)
    assert (b["x"], b["t_x"], b["T"], b["m"]) == (0.0, 0.0, 27.0, 0.0)


def test_too_few_customers():
    tx = toy_log(
        [("A", "1", "2011-01-01 10:00", "P", 1, 10.0), ("A", "2", "2011-01-05 10:00", "P", 1, 10.0)]
    )
    with pytest.raises(
        InsufficientDataError,
        match="Only 1 customers bought before 2011-02-01; predictions need at least 50",
    ):
        btyd_forecast(tx, dt.datetime(2011, 2, 1), 30)


def test_pareto_nbd_matches_the_published_cdnow_fit():
    """Fader & Hardie's CDNOW sample (2,357 customers, weeks): r 0.5533, alpha 10.5776,
    s 0.6061, beta 11.6650 ("A note on implementing the Pareto/NBD model in MATLAB", 2005);
    the data are the copy lifetimes 0.11.3 ships, and its fitter gives the same per-customer
    numbers."""
    from lifetimes.datasets import load_cdnow_summary

    cdnow = load_cdnow_summary()
    x, t_x, T = (cdnow[c].to_numpy(dtype=float) for c in ("frequency", "recency", "T"))
    model = ParetoNBD(penalizer=0.0).fit(x, t_x, T)
    published = {"r": 0.5533, "alpha": 10.5776, "s": 0.6061, "beta": 11.6650}
    for name, value in published.items():
        assert model.params_[name] == pytest.approx(value, rel=5e-4), name
    # lifetimes 0.11.3 ParetoNBDFitter on the same data, first three customers
    assert model.p_alive(x[:3], t_x[:3], T[:3]) == pytest.approx(
        [0.86911656, 0.16786904, 0.29508978], rel=1e-4
    )
    assert model.expected_purchases(10, x[:3], t_x[:3], T[:3]) == pytest.approx(
        [0.42447059, 0.04987614, 0.0312304], rel=1e-4
    )


def test_pareto_nbd_expectations_are_sane():
    x, t_x, T, _ = bgnbd_histories(800, seed=3)
    model = ParetoNBD().fit(x, t_x, T)
    alive = model.p_alive(x, t_x, T)
    assert ((alive > 0) & (alive <= 1)).all()
    assert (alive[x == 0] < 1).all()
    e30, e90 = model.expected_purchases(30, x, t_x, T), model.expected_purchases(90, x, t_x, T)
    assert (e90 >= e30).all() and (e30 >= 0).all()
