from typing import Any

# The C module: every name is one of M2Sec._m2sec's functions or constants.
def __getattr__(name: str) -> Any: ...
