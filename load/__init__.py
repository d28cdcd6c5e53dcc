"""Load scenarios: Locust users walking the purchase flow, and an audit after every run.

``purchaseflow load`` (``load/command.py``, ``load/run.py``) runs Locust in a subprocess on
``load/locustfile.py``; ``docs/load.md`` is the performance tester's guide. Nothing here is
imported by this package itself: the CLI's modules never import Locust, which monkey-patches
the process that imports it.
"""
