"""Runs: the composition root. The CLI, the Python API and the review app call these and nothing else.

* ``context``: ``RunContext``, the cancel token and console every run is handed;
* ``scan``: ``run_scan``, folders into the index (the engine, its pool, its outputs);
* ``deep``: the deep pass (local features) of ``--deep``;
* ``find``: ``find_duplicates``, a scan then matching (``matching.indexed``) on the index's records;
* ``plan``: ``plan_actions``, a find then a plan of actions (``actions.plan``) on its groups.

Matching works from index records to groups and never scans or starts
processes; actions work from groups and never import the finder.
"""
