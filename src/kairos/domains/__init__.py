"""Domain vocabularies: scenario builders for each kind of system KAIROS simulates.

Only the AI-safety domain exists (:mod:`kairos.domains.ai_safety`); each domain is its own
module so that ``from kairos.domains.ai_safety import AISafetyScenario`` reads as in the
documentation.
"""

from kairos._deferred import exports_from_stub

__getattr__, __dir__, __all__ = exports_from_stub(__name__, __file__)
