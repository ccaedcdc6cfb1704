"""Dotted names to objects, shared by docs/conf.py (resolving short names in docstrings) and
tests/test_docs_examples.py (checking that the names the pages give exist)."""

import importlib
from typing import Any


def import_dotted(name: str) -> Any:
    """The object a dotted name reaches: the longest importable module, then attributes; a
    shorter module is tried when an attribute is missing (M2Sec.SSL.Connection.accept is the
    class M2Sec.SSL exports, not the module of the same name).  None when nothing matches."""
    parts = name.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        try:
            for attr in parts[i:]:
                obj = getattr(obj, attr)
        except AttributeError:
            continue
        return obj
    return None
