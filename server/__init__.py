"""FaceCheck's local HTTP server: the Python predictor behind a small versioned JSON API and a page.

    facecheck serve [--host 127.0.0.1] [--port 8000]        # waitress, see server/serve.py
    from server.app import create_app                          # the Flask app factory

The API is described in server/openapi.py (served at /api/v1/openapi.json); the page at / lives in
server/static/. `facecheck scan --server URL` talks to it through server/client.py.
"""

API_PREFIX = "/api/v1"
