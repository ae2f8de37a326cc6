"""The Segments page's settings, shared with the pages that reuse the current segmentation."""

from __future__ import annotations

from dash import dcc

from dashboard.service import SegmentParams

STORE_ID = "segments-settings"


def create_settings_store() -> dcc.Store:
    """The session-stored Segments settings; pages that reuse the segmentation include it too.

    It must sit in each page's own layout (not the shell): its restored value is then ready
    when the page's first callbacks read it.
    """
    return dcc.Store(id=STORE_ID, storage_type="session")


DEFAULTS = {
    "features": [],
    "scaling": "log-standard",
    "algorithm": "kmeans",
    "k": 4,
    "eps": 1.0,
    "min_samples": 10,
    "min_cluster_size": None,
    "view": "3d",
    "auto": False,
}


def params_from(
    features, scaling, algorithm, k, eps, min_samples, min_cluster_size
) -> SegmentParams:
    """Control values -> SegmentParams (validation is the analytics layer's job)."""
    return SegmentParams(
        features=tuple(features) if features else None,
        scaling=scaling or DEFAULTS["scaling"],
        algorithm=algorithm or DEFAULTS["algorithm"],
        k=k if isinstance(k, int) else DEFAULTS["k"],
        eps=float(eps) if eps is not None else DEFAULTS["eps"],
        min_samples=int(min_samples) if min_samples is not None else DEFAULTS["min_samples"],
        min_cluster_size=int(min_cluster_size) if min_cluster_size else None,
    )


def params_from_saved(saved: dict | None) -> SegmentParams:
    """SegmentParams from the session's saved Segments settings (defaults when none)."""
    saved = {**DEFAULTS, **(saved or {})}
    return params_from(
        *(
            saved[k]
            for k in (
                "features",
                "scaling",
                "algorithm",
                "k",
                "eps",
                "min_samples",
                "min_cluster_size",
            )
        )
    )
