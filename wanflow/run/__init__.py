"""Stage 4, the run: the Prefect flow over the plan, its tasks and the Dask cluster.

The only package that imports Prefect and Dask; the CLI imports it only once the input is
known to be good, so `wanflow validate` and `wanflow plan` never pay for them.
"""
