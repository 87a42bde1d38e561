"""The garbage collector's settings for a process that traces many networks.

In a notebook or a script, call `explorer.settle_after_imports()` once after your imports
(benchmarks/notebook_trace.py: a first trace of convnext_large in a plain process took about
5× its meta constructor with Python's settings, about 1.3× after this call). The library never
calls it on its own: the settings are the whole process's, the caller's to choose.

The `explorer` CLI, the app's server, its job workers and the benchmarks call
`settle_after_imports()` once, at start-up, after their imports; never per request (the
settings are process-wide).

- `gc.freeze()`: everything imported so far (torch, torchvision's ~80 model modules, timm, the
  catalog) lives as long as the process; frozen, the collector's full passes no longer scan it
  (they cost a first trace ~100 ms).
- The young generation is collected every `YOUNG_THRESHOLD` allocations instead of Python's
  700. Building and tracing a network allocates hundreds of thousands of short-lived objects
  (modules, their hook dictionaries, shapes); at 700 the collector ran 3,100 young and 25 full
  passes over 138 timm models, 13% of their build and trace time, and a full pass pauses
  every thread of the server. At 10,000 the collector took 5% of that time. Cyclic garbage
  waits for at most that many more allocations; memory is unchanged in practice (a module
  tree is freed by reference counting when its last user lets go).
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 10_000


def settle_after_imports() -> None:
    """Freeze what the imports created and raise the young-generation threshold (a higher
    one set by the process's owner is kept)."""
    gc.freeze()
    young, middle, old = gc.get_threshold()
    if 0 < young < YOUNG_THRESHOLD:
        gc.set_threshold(YOUNG_THRESHOLD, middle, old)
