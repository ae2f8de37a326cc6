"""``python -m dashboard``: a development server on the bundled data (use gunicorn in production)."""

import os

from dashboard.app import create_app

if __name__ == "__main__":
    app = create_app()
    app.run(
        host=os.environ.get("SEGMENTA_HOST", "127.0.0.1"),
        port=int(os.environ.get("SEGMENTA_PORT", "8050")),
        debug=os.environ.get("SEGMENTA_DEBUG") == "1",
    )
