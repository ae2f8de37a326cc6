"""A bare Dash app doing Segmenta's recluster work, as the yardstick for ``bench_browser.py``.

Serve it like the dashboard: ``gunicorn -w 2 benchmarks.reference_app:server`` (from the repository
root). At startup it cleans the bundled data and computes the customer features once; then ONE
callback runs K-Means (k from a slider, 2..10) on the 9 log-scaled features and draws a 3D PCA
scatter of every customer, coloured by segment. No cache, no follow-up callbacks, no styling.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import dash  # noqa: E402
import numpy as np  # noqa: E402
import plotly.graph_objects as go  # noqa: E402
from dash import Input, Output, dcc, html  # noqa: E402
from sklearn.cluster import KMeans  # noqa: E402
from sklearn.decomposition import PCA  # noqa: E402

from analytics.datasets import open_dataset  # noqa: E402
from analytics.features import FEATURES, customer_features  # noqa: E402
from analytics.segmentation import scale  # noqa: E402

_features = customer_features(open_dataset().transactions)
#: The 9 features, log-scaled and standardised (``sign(x)·log1p(|x|)``, then z-scores), once.
SCALED = scale(
    _features.select(list(FEATURES)).fill_nan(None).fill_null(0).to_numpy().astype(np.float64),
    "log-standard",
)
COORDS = PCA(n_components=3, random_state=0).fit_transform(SCALED)
DEFAULT_K = 4

app = dash.Dash(__name__, title="Reference", update_title=None)
server = app.server
app.layout = html.Div(
    [
        html.H3("Reference: K-Means + 3D PCA"),
        dcc.Slider(
            id="ref-k",
            min=2,
            max=10,
            step=1,
            value=DEFAULT_K,
            marks={k: str(k) for k in range(2, 11)},
        ),
        dcc.Graph(id="ref-pca", style={"height": "600px"}),
    ],
    style={"padding": "16px"},
)


@app.callback(Output("ref-pca", "figure"), Input("ref-k", "value"))
def recluster(k: int) -> go.Figure:
    """K-Means with k segments on the scaled features; all customers in 3D PCA space."""
    labels = KMeans(n_clusters=int(k), init="k-means++", n_init=3, random_state=0).fit_predict(
        SCALED
    )
    fig = go.Figure()
    for segment in range(int(k)):
        mask = labels == segment
        fig.add_trace(
            go.Scatter3d(
                x=COORDS[mask, 0],
                y=COORDS[mask, 1],
                z=COORDS[mask, 2],
                mode="markers",
                name=f"Segment {segment} ({int(mask.sum()):,})",
                marker={"size": 3, "opacity": 0.75},
            )
        )
    fig.update_layout(margin={"l": 0, "r": 0, "t": 30, "b": 0}, uirevision="pca")
    return fig
