"""The public surface is what it claims, and the backend never imports Streamlit."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import explorer


def test_all_is_sorted_and_exists() -> None:
    names = [n for n in explorer.__all__ if n != "__version__"]
    assert names == sorted(names)
    for name in explorer.__all__:
        assert hasattr(explorer, name), name


def test_backend_never_imports_streamlit() -> None:
    modules = [
        m.name
        for m in pkgutil.walk_packages(explorer.__path__, prefix="explorer.")
        if not m.name.endswith(".__main__")  # runs the command line when imported
    ]
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "bad = [m for m in sys.modules if m == 'streamlit' or m.startswith('streamlit.')]\n"
        "print(len(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "0"
    assert len(modules) > 20


def test_catalog_signature_and_notebook_exports() -> None:
    assert {"MetaTraceError", "Signature", "search", "summary"} <= set(explorer.__all__)
    assert issubclass(explorer.MetaTraceError, explorer.ExplorerError)
    assert "timm/resnet50" in explorer.search("timm resnet50")
    assert str(explorer.Signature((), ())) == ""
    assert explorer.summary("lenet5", verbose=0).total_params == 61_706
