"""puffer_envs: the SDK for Puffer environments written in C (cffi, no binding code).

    from puffer_envs import CEnv      # the runtime class every C env subclasses
    puffer_envs.testing               # the conformance kit (pytest plugin + Conformance base class)
    puffer-envs new <name>            # a complete plugin package from the template
"""

from .build import BuildError, get_include
from .cdef import HeaderError
from .cenv import CEnv

__version__ = "0.1.0"

__all__ = ["BuildError", "CEnv", "HeaderError", "get_include"]
