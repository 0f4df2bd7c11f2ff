# The public names of kairos.domains, listed once: type checkers read this stub instead of
# __init__.py, and the package reads it at run time (kairos._deferred: keep to its form).
from .ai_safety import AISafetyEventType as AISafetyEventType
from .ai_safety import AISafetyScenario as AISafetyScenario
