"""M2Crypto's SWIG module under its own name: the same functions and constants as :mod:`M2Sec.m2`."""

from M2Sec.m2 import *  # noqa: F401,F403
