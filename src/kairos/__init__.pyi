# The public names of kairos, listed once: type checkers read this stub instead of
# __init__.py, and the package reads it at run time (kairos._deferred: keep to its form).
from kairos import errors as errors
from kairos.client import KairosClient as KairosClient
from kairos.trace import AgentTrace as AgentTrace
from kairos.trace import BasinLoss as BasinLoss
from kairos.trace import GhostBranch as GhostBranch
from kairos.trace import LazyTrace as LazyTrace
from kairos.trace import PhaseTransition as PhaseTransition
from kairos.trace import Trace as Trace
from kairos.trace import TraceMetadata as TraceMetadata
from kairos.trace import TraceStep as TraceStep

__version__: str
