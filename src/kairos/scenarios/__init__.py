"""kairos.scenarios: the library of curated AI-safety scenarios.

::

    from kairos import scenarios

    scenarios.ids()                          # ['capability-divergence', ...]
    entry = scenarios.get("capability-divergence")
    entry.question, entry.seed, entry.ticks
    trace = client.run("capability-divergence", ticks=entry.ticks)   # a run by id

The library is data in the schema's wire form: ``library.json`` in this package, a JSON list of
``$defs/LibraryScenario`` objects (each entry's description and its scenario), read on first
use. The server answers ``scenario.list`` and ``scenario.get`` with these same objects, and
``kairos scenarios [ID]`` prints them. :func:`foresight_leads` measures how early a trace's
prophecies and warnings (engine 1.6.0) flagged its basin losses. An unknown id raises
:class:`UnknownScenarioError`, a :class:`kairos.errors.ValidationError` whose message lists the
known ids.
"""

from ._leads import ForesightLead, foresight_leads
from ._library import LibraryEntry, UnknownScenarioError, entries, get, ids

__all__ = [
    "ForesightLead",
    "LibraryEntry",
    "UnknownScenarioError",
    "entries",
    "foresight_leads",
    "get",
    "ids",
]
