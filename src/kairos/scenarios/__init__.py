"""kairos.scenarios: the library of curated AI-safety scenarios.

::

    from kairos import scenarios

    scenarios.ids()                          # ['capability-divergence', ...]
    entry = scenarios.get("capability-divergence")
    entry.question, entry.seed, entry.ticks
    trace = client.run("capability-divergence", ticks=entry.ticks)   # a run by id

The server answers ``scenario.list`` and ``scenario.get`` from this same library, and
``kairos scenarios [ID]`` prints it. An unknown id raises :class:`UnknownScenarioError`, a
:class:`kairos.errors.ValidationError` whose message lists the known ids.
"""

from ._library import LibraryEntry, UnknownScenarioError, entries, get, ids

__all__ = ["LibraryEntry", "UnknownScenarioError", "entries", "get", "ids"]
