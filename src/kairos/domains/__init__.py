"""Domain vocabularies: scenario builders for each kind of system KAIROS simulates.

Only the AI-safety domain exists (:mod:`kairos.domains.ai_safety`); each domain is its own
module so that ``from kairos.domains.ai_safety import AISafetyScenario`` reads as in the
documentation.
"""

from kairos._deferred import lazy_exports

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .ai_safety import AISafetyEventType, AISafetyScenario

__all__ = ["AISafetyEventType", "AISafetyScenario"]

if not TYPE_CHECKING:  # type checkers read the imports above, not a catch-all
    __getattr__, __dir__ = lazy_exports(
        __name__,
        {
            ".ai_safety": "AISafetyEventType AISafetyScenario",
        },
        submodules=["ai_safety"],
    )
