"""Prefect's side of a warm process (`wanflow.cli.warm_process`): what it imports before it forks,
and what each fork makes anew for its caller's terminal."""

from __future__ import annotations


def import_what_runs_import() -> None:
    """Prefect's flow and task engines, wanflow's run stage, torch, diffusers and transformers,
    in the order a run imports them; none of them starts a Python thread."""
    from wanflow import settings

    settings.set_prefect_defaults()  # before Prefect reads its settings, as the command line does
    import anyio._core._sockets  # noqa: F401  (and what Prefect imports late, in the flow run's start)
    import anyio._core._streams  # noqa: F401
    import fastapi.encoders  # noqa: F401
    import PIL.PngImagePlugin  # noqa: F401
    import prefect.flow_engine  # noqa: F401
    import prefect.task_engine  # noqa: F401
    import prefect.task_runners  # noqa: F401
    import prefect.utilities.visualization  # noqa: F401

    from wanflow.backends.pool import preload_backends
    from wanflow.grammar.files import load_vocabulary, packaged_grammar_dir
    from wanflow.run import graph, lifecycle  # noqa: F401

    preload_backends()
    load_vocabulary(packaged_grammar_dir())  # parsed once per file version: the shipped one, parsed here


def log_to_this_terminal() -> None:
    """Prefect's console handlers, made anew: they decided on colour when the warm process, with no
    terminal, imported Prefect; a fork writing to one gets the colours an in-process run would."""
    from prefect.logging.configuration import setup_logging

    setup_logging(incremental=False)
