"""kairos-sdk: the Python SDK, reference server and deterministic engine for KAIROS.

Start with :class:`KairosClient`; build scenarios with
:class:`kairos.domains.ai_safety.AISafetyScenario`; analyse results with :class:`Trace`.
Exceptions live in :mod:`kairos.errors`; the deterministic engine in :mod:`kairos.engine`; the
reference server in :mod:`kairos.server`.

The public names, listed in ``__init__.pyi``, are imported when first used (PEP 562), so
``import kairos`` is cheap.
"""

from kairos._deferred import exports_from_stub

__version__ = "0.1.0"

__getattr__, __dir__, __all__ = exports_from_stub(__name__, __file__)
