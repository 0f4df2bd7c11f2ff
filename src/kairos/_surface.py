"""A readable listing of the API surface, built from the generated registry and stubs."""

from __future__ import annotations

import inspect

from kairos_api import PROCEDURES, KairosAPI


def api_surface() -> str:
    """One line per procedure: the sync call a user writes, its kind and its output model."""
    lines = []
    for path, procedure in PROCEDURES.items():
        router, name = path.split(".")
        namespace = inspect.get_annotations(KairosAPI, eval_str=True)[router]
        signature = inspect.signature(getattr(namespace, name))
        params = [
            p.name if p.default is inspect.Parameter.empty else f"{p.name}=..."
            for p in signature.parameters.values()
            if p.name != "self"
        ]
        call = f"client.{router}.{name}({', '.join(params)})"
        retry = "retry-safe" if procedure.retry_safe else "not retried on connection errors"
        output = procedure.output_model.__name__
        lines.append(f"{call:<72} {procedure.kind:<12} -> {output}  [{retry}]")
    return "\n".join(lines)
