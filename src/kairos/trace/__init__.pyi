# The public names of kairos.trace, listed once: type checkers read this stub instead of
# __init__.py, and the package reads it at run time (kairos._deferred: keep to its form).
from kairos_api import AgentState as AgentState
from kairos_api import BasinLoss as BasinLoss
from kairos_api import GhostBranch as GhostBranch
from kairos_api import PhaseTransition as PhaseTransition
from kairos_api import TraceStep as TraceStep

from ._base import AgentTrace as AgentTrace
from ._lazy import INDEX_STRIDE as INDEX_STRIDE
from ._lazy import LazyTrace as LazyTrace
from ._lazy import LazyTraceWriter as LazyTraceWriter
from ._memory import Trace as Trace
from ._metadata import TraceMetadata as TraceMetadata
from ._trace_file import FORMAT as FORMAT
from ._trace_file import FORMAT_VERSION as FORMAT_VERSION
from ._trace_file import TraceFileAccessError as TraceFileAccessError
from ._trace_file import TraceFileError as TraceFileError
from ._trace_file import TruncatedTraceError as TruncatedTraceError
