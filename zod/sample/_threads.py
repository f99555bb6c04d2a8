"""Run numpy's BLAS on one thread while the generator works.

The generator multiplies many (N, 3) arrays by 3x3 matrices. With the multi-threaded OpenBLAS
bundled with numpy, each such product synchronises BLAS threads, which on a busy 2-core machine
costs 20x more than the product itself (measured: 69 ms vs 3 ms for 130k points). The generator
parallelises over items with processes instead, so it pins BLAS to one thread for its duration
and restores the previous setting after. Without an OpenBLAS in the process this is a no-op.
"""

from __future__ import annotations

import ctypes
from collections.abc import Iterator
from contextlib import contextmanager

_PREFIXES = ("openblas_", "scipy_openblas_")
_SUFFIXES = ("", "64_")


def _openblas_functions() -> tuple[object, object] | None:
    """(get_num_threads, set_num_threads) of the OpenBLAS loaded in this process, if any."""
    try:
        with open("/proc/self/maps") as maps:
            paths = sorted(
                {line.split()[-1] for line in maps if "openblas" in line.lower() and "/" in line}
            )
    except OSError:
        return None
    for path in paths:
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for prefix in _PREFIXES:
            for suffix in _SUFFIXES:
                get = getattr(lib, f"{prefix}get_num_threads{suffix}", None)
                set_ = getattr(lib, f"{prefix}set_num_threads{suffix}", None)
                if get is not None and set_ is not None:
                    return get, set_
    return None


@contextmanager
def single_threaded_blas() -> Iterator[None]:
    """Context manager: numpy's OpenBLAS on one thread inside, previous thread count after."""
    import numpy  # noqa: F401  (loads the BLAS library so that it can be found)

    funcs = _openblas_functions()
    if funcs is None:
        yield
        return
    get, set_ = funcs
    previous = int(get())  # type: ignore[operator]
    set_(1)  # type: ignore[operator]
    try:
        yield
    finally:
        set_(previous)  # type: ignore[operator]
