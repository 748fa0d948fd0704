"""A Dask worker preload: the imports a render needs, done when the worker starts, not in the first shot.

`wanflow cluster start` preloads it into every worker; on a studio's own workers:
`dask worker ADDRESS --preload wanflow.run.warmup ...`. A long-lived worker then spends a run's
time on models and shots only.
"""

import wanflow.run.tasks  # noqa: F401  (Prefect's task engine)
from wanflow.backends.pool import preload_backends

preload_backends()  # torch, diffusers, transformers
