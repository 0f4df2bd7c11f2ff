"""A griffe extension for the docs site: read the docstrings' reST markup as Markdown.

The docstrings are written for ``help()`` and IDEs, with Sphinx roles (``:class:`Trace```) and
``::`` before literal blocks. mkdocstrings renders Markdown, where those would show as raw text.
This turns a role into inline code with the name a reader sees (``~pkg.mod.Name`` shows
``Name``, as in Sphinx) and ``text::`` into ``text:``; the indented block after it is already a
Markdown code block. Only the rendered copy changes: the source stays as it is.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_ROLE = re.compile(r":(?:py:)?(?:class|func|meth|mod|attr|exc|data|obj|const):`~?([^`]+)`")
_LITERAL = re.compile(r"(?m)^(?P<text>.*?)(?P<space>[ \t]?)::[ \t]*$")


def _role(match: re.Match[str]) -> str:
    target = match.group(1)
    shown = target.rsplit(".", 1)[-1] if match.group(0).count("`~") else target
    return f"`{shown.lstrip('.')}`"


def _literal(match: re.Match[str]) -> str:
    text = match.group("text")
    if not text.strip():
        return ""
    return text if match.group("space") else f"{text}:"


def markdown_from_rest(text: str) -> str:
    """The docstring ``text`` with its Sphinx roles and ``::`` markers made Markdown."""
    return _LITERAL.sub(_literal, _ROLE.sub(_role, text))


class RestRoles(griffe.Extension):
    """Rewrites every docstring once, when griffe loads its object."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = markdown_from_rest(obj.docstring.value)
