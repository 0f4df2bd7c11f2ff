"""Domain vocabularies: scenario builders for each kind of system KAIROS simulates.

Only the AI-safety domain exists (:mod:`kairos.domains.ai_safety`); each domain is its own
module so that ``from kairos.domains.ai_safety import AISafetyScenario`` reads as in the
documentation.
"""

from .ai_safety import AISafetyEventType, AISafetyScenario

__all__ = ["AISafetyEventType", "AISafetyScenario"]
