"""examples/quickstart.ipynb runs top to bottom in a real Jupyter kernel, as a researcher runs it.

The kernel is this environment's interpreter (a kernel spec written to a temporary directory,
pointing at ``sys.executable``; the user's kernels and Jupyter/IPython configuration are not
read). The notebook must run without errors, show the trace's HTML view, the plots as PNG
images and the sweep's progress as a widget, and write nothing to stderr: no warnings, no
tracebacks, no text progress bar.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import nbformat
import pytest
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).resolve().parent.parent / "examples" / "quickstart.ipynb"
KERNEL = "kairos-sdk-test"
WIDGET = "application/vnd.jupyter.widget-view+json"


def _kernel_manager(directory: Path) -> KernelManager:
    spec = directory / "kernels" / KERNEL
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": "kairos-sdk (test)",
                "language": "python",
            }
        )
    )
    specs = KernelSpecManager(kernel_dirs=[str(spec.parent)], ensure_native_kernel=False)
    # Unix sockets in the temporary directory rather than TCP ports on 127.0.0.1, and the
    # connection file beside them rather than in the user's Jupyter runtime directory.
    return KernelManager(
        kernel_name=KERNEL,
        kernel_spec_manager=specs,
        transport="ipc",
        ip=str(directory / "kernel-ipc"),
        connection_file=str(directory / "connection.json"),
    )


# A remote server, a non-inline matplotlib backend or debug logging are not what a new user has.
# Under pytest ipykernel stops forwarding what subprocesses and C code write to the process's
# stderr; without the variable the notebook shows it, as a user's does.
_NOT_INHERITED = (
    "KAIROS_URL",
    "KAIROS_API_KEY",
    "KAIROS_LOG",
    "MPLBACKEND",
    "PYTEST_CURRENT_TEST",
)


def _kernel_env(directory: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in _NOT_INHERITED}
    # No personal IPython profile or Jupyter configuration.
    env["IPYTHONDIR"] = str(directory / "ipython")
    env["JUPYTER_CONFIG_DIR"] = str(directory / "jupyter-config")
    env["PYDEVD_DISABLE_FILE_VALIDATION"] = "1"
    return env


@pytest.fixture(scope="module")
def executed(tmp_path_factory: pytest.TempPathFactory) -> nbformat.NotebookNode:
    # matplotlib builds its font cache once per machine and says so on stderr; that is the
    # machine's first use of matplotlib, not the notebook's doing.
    import matplotlib.font_manager  # noqa: F401

    directory = tmp_path_factory.mktemp("notebook")
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    client = NotebookClient(
        notebook,
        km=_kernel_manager(directory),
        timeout=240,
        resources={"metadata": {"path": str(directory)}},
    )
    client.execute(env=_kernel_env(directory))
    return notebook


def _outputs(notebook: nbformat.NotebookNode) -> list[tuple[int, dict[str, Any]]]:
    return [
        (index, output)
        for index, cell in enumerate(notebook.cells)
        if cell.cell_type == "code"
        for output in cell.outputs
    ]


def _cell_of(notebook: nbformat.NotebookNode, fragment: str) -> nbformat.NotebookNode:
    (cell,) = [c for c in notebook.cells if c.cell_type == "code" and fragment in c.source]
    return cell


def test_the_committed_notebook_has_no_outputs() -> None:
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(notebook)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, cell.source


def test_it_runs_without_errors(executed: nbformat.NotebookNode) -> None:
    errors = [output for _, output in _outputs(executed) if output["output_type"] == "error"]
    assert errors == []
    assert all(
        cell.execution_count is not None for cell in executed.cells if cell.cell_type == "code"
    )


def test_stderr_stays_empty(executed: nbformat.NotebookNode) -> None:
    stderr = [
        (index, output["text"])
        for index, output in _outputs(executed)
        if output["output_type"] == "stream" and output["name"] == "stderr"
    ]
    stderr = [(index, text) for index, text in stderr if text]
    assert stderr == [], "\n".join(f"cell {index}: {text}" for index, text in stderr)


def test_the_trace_shows_its_html_view(executed: nbformat.NotebookNode) -> None:
    cell = _cell_of(executed, "trace = client.run(")
    (result,) = [o for o in cell.outputs if o["output_type"] == "execute_result"]
    html = result["data"]["text/html"]
    assert "Deceptive Alignment Spikes" in html
    assert "1.4.4" in html


def test_the_plots_appear_as_images(executed: nbformat.NotebookNode) -> None:
    for fragment in ("trace.plot()", "result.plot("):
        cell = _cell_of(executed, fragment)
        assert any("image/png" in o.get("data", {}) for o in cell.outputs), cell.outputs


def test_the_sweep_shows_a_progress_widget_and_its_threshold(
    executed: nbformat.NotebookNode,
) -> None:
    cell = _cell_of(executed, "result = sweep(")
    data = [
        o["data"] for o in cell.outputs if o["output_type"] in ("display_data", "execute_result")
    ]
    assert any(WIDGET in d for d in data), cell.outputs
    assert any("GridThreshold(parameter='capability'" in d.get("text/plain", "") for d in data)
    search = _cell_of(executed, "find_threshold(")
    printed = "".join(o["text"] for o in search.outputs if o["output_type"] == "stream")
    assert "basin losses begin at capability" in printed
