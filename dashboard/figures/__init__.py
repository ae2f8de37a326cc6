"""Plotly figures, one module per page (``dashboard.figures.segments`` for the Segments page, ...)
and ``common`` for what they share. Pure functions: analytics results in, figures out."""
