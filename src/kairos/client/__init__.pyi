# The public names of kairos.client, listed once: type checkers read this stub instead of
# __init__.py, and the package reads it at run time (kairos._deferred: keep to its form).
from ._client import KairosClient as KairosClient
from ._settings import ClientSettings as ClientSettings
