"""``imgtwin review``: a local review app in the browser, from a live scan to apply and undo.

The layers, each in its own module:

- ``finder``: scan and group through ``runs.scan.run_scan`` and ``runs.find.find_duplicates``;
- ``progress``: the scan's progress for the page (a ``ProgressReporter``);
- ``events``: server-sent events from the worker threads to the page;
- ``catalog``: opaque file ids, and the checks before any file is read;
- ``imaging``: thumbnails and browser-ready pictures, decoded in worker processes;
- ``acting``: the page's decisions -> an action plan; past runs from their journals;
- ``session``: one job at a time (scan, apply, undo) and what the page reads;
- ``security``: Host check, token, cookie, header (an ASGI middleware);
- ``server``: the Starlette routes and the uvicorn server; ``app``: composition.
"""

from imgtwin.review.app import make_server, review_server
from imgtwin.review.server import ReviewServer

__all__ = ["ReviewServer", "make_server", "review_server"]
