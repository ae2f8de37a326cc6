"""``python -m dashboard``: a development server on the bundled data (use gunicorn in production).

``python -m dashboard keys create --name NAME | list | revoke NAME_OR_ID`` manages the REST
API's keys (:mod:`dashboard.api_keys`); ``python -m dashboard users add NAME --role ROLE | list |
remove NAME`` manages who may sign in (:mod:`dashboard.users`).
"""

import os
import sys

if __name__ == "__main__":
    if sys.argv[1:2] == ["keys"]:
        from dashboard.api_keys import main

        sys.exit(main(sys.argv[2:]))
    if sys.argv[1:2] == ["users"]:
        from dashboard.users import main

        sys.exit(main(sys.argv[2:]))
    from dashboard.app import create_app

    app = create_app()
    app.run(
        host=os.environ.get("SEGMENTA_HOST", "127.0.0.1"),
        port=int(os.environ.get("SEGMENTA_PORT", "8050")),
        debug=os.environ.get("SEGMENTA_DEBUG") == "1",
    )
