"""The Segmenta web app (Plotly Dash). ``create_app`` lives in :mod:`dashboard.app`."""
