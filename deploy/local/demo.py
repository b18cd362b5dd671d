"""Demo data for the local stack.

``deploy/local/stack.py`` calls :func:`load_demo_data` once, after every service's ``/readyz`` answered 200
(skip it with ``--no-demo``). Demo data goes in through the services' public HTTP APIs only, as a person or an
integration would put it in, so that the events flow through the whole system.
"""

from __future__ import annotations

from collections.abc import Mapping


def load_demo_data(urls: Mapping[str, str]) -> None:
    """Load the demo data. ``urls`` maps each service name to its API's base URL (``http://127.0.0.1:8101``)."""
    for name, url in urls.items():
        print(f"{name} is ready at {url}")
    print(
        "No demo data is loaded yet: the services have no domain APIs so far. Demo customers, attentions, "
        "commitments and tickets arrive with the attentions service (issue 3) and will be created here "
        "through its API."
    )
