"""`wanflow models list|pull|verify|make-tiny`: install and inspect the Wan2.2 models."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from wanflow.backends.store import (
    find_model,
    list_models,
    models_root,
    weights_fingerprint,
)
from wanflow.catalog import BACKENDS, backend_spec
from wanflow.cli.common import make_console, print_table, user_errors
from wanflow.errors import Problem, UserError

models_app = typer.Typer(help="Install, list and check the Wan2.2 models.", no_args_is_help=True)
console = make_console()


def _human(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024:
            return f"{value:.1f} {unit}" if unit != "B" else f"{size} B"
        value /= 1024
    return f"{value:.1f} TiB"


@models_app.command("list")
def list_command() -> None:
    """Installed models, their size on disk, and which backends are usable."""
    with user_errors():
        root = models_root()
        installed = list_models(root)
        console.print(f"models root: {root}")
        if not installed:
            console.print(
                "no models installed: `wanflow models pull ti2v-5b` (real) or `wanflow models make-tiny` (tiny)"
            )
            return
        table = Table("model", "kind", "size", "status", "where", "path")
        table.columns[-1].overflow = "fold"
        for model in installed:
            status = "ok" if model.usable else "incomplete: missing " + ", ".join(model.missing)
            table.add_row(
                model.backend_id,
                "tiny" if model.tiny else "real",
                _human(model.size_bytes),
                status,
                model.where,
                str(model.path),
            )
        console.print(table)
        usable_real = sorted({m.backend_id for m in installed if m.usable and not m.tiny})
        usable_tiny = sorted({m.backend_id for m in installed if m.usable and m.tiny})
        console.print(f"usable backends: {', '.join(usable_real) or 'none'}; tiny: {', '.join(usable_tiny) or 'none'}")
        _list_quantized(root)


def _list_quantized(root: Path) -> None:
    """The GGUF experts (with their quant type as the file says it) and the lightx2v LoRAs present."""
    from wanflow.backends.quantized import LIGHTNING_FILES, installed_ggufs, lightning_path

    ggufs = [(b, c, q, p) for base in (root, root / "tiny") for b, c, q, p in installed_ggufs(base)]
    loras = [lightning_path(root, *key) for key in LIGHTNING_FILES if lightning_path(root, *key).is_file()]
    if not ggufs and not loras:
        return
    table = Table("model", "expert", "quant", "size", "path")
    table.columns[-1].overflow = "fold"
    for backend_id, component, quant, path in ggufs:
        expert = "high-noise" if component == "transformer" else "low-noise"
        table.add_row(backend_id, expert, quant, _human(path.stat().st_size), str(path))
    for path in loras:
        table.add_row("lightx2v", "LoRA", "-", _human(path.stat().st_size), str(path))
    print_table(console, table)


@models_app.command("pull")
def pull_command(
    name: Annotated[str, typer.Argument(help="ti2v-5b, t2v-a14b, i2v-a14b, or lightx2v (the 4-step LoRAs)")],
    quant: Annotated[
        str | None, typer.Option("--quant", help="GGUF experts of this quant type instead (q8_0 | q4_k_s; A14B only).")
    ] = None,
) -> None:
    """Download a model from the Hugging Face Hub into the models root (resumable)."""
    with user_errors():
        if name == "lightx2v":
            from wanflow.backends.pull_quantized import pull_lightning

            for path in pull_lightning(models_root()):
                console.print(f"[green]installed[/] {path}")
            return
        spec = backend_spec(name)
        if quant is not None:
            from wanflow.backends.pull_quantized import pull_gguf
            from wanflow.backends.quantized import gguf_repo_file

            gguf_repo_file(spec.id, "transformer", quant)  # a quant or model without files: said before downloading
            for path in pull_gguf(spec.id, quant, models_root()):
                console.print(f"[green]installed[/] {path}")
            return
        from wanflow.backends.pull import pull_model

        console.print(
            f"pulling {spec.repo_id} into {models_root() / name} (needs about {spec.memory_class_gb} GB of GPU memory to run)"
        )
        folder = pull_model(name)
        console.print(f"[green]installed[/] {name} in {folder}")


@models_app.command("verify")
def verify_command(
    name: Annotated[str | None, typer.Argument(help="one model; all installed ones when left out")] = None,
    tiny: Annotated[bool, typer.Option("--tiny", help="check only the tiny models")] = False,
) -> None:
    """Check that every component is present and that the components fit together.

    Without --tiny, every installed model is checked, real and tiny alike (right after
    `models make-tiny`, that is the tiny ones).
    """
    with user_errors():
        from wanflow.backends.verify import verify_model

        names = [backend_spec(name).id] if name else list(BACKENDS)
        kinds = (True,) if tiny else (False, True)
        problems: list[Problem] = []
        checked = 0
        for backend_id, is_tiny in ((backend_id, is_tiny) for is_tiny in kinds for backend_id in names):
            found = find_model(backend_id, tiny=is_tiny)
            if found is None:
                continue
            folder, _ = found
            checked += 1
            kind = "tiny model" if is_tiny else "model"
            found_problems = verify_model(backend_id, folder)
            for message in found_problems:
                problems.append(Problem(file=str(folder), line=None, column=None, field=backend_id, message=message))
            if not found_problems:
                console.print(
                    f"[green]ok[/] {kind} {backend_id} ({folder}) fingerprint {weights_fingerprint(folder)[:16]}"
                )
        from wanflow.backends.gguf_files import verify_installed

        for backend_id, path, found_problems in verify_installed(models_root()):
            if name and backend_id != backend_spec(name).id:
                continue
            checked += 1
            for message in found_problems:
                problems.append(Problem(file=str(path), line=None, column=None, field=backend_id, message=message))
            if not found_problems:
                console.print(f"[green]ok[/] GGUF expert {backend_id} ({path})")
        if checked == 0:
            raise UserError(_nothing_installed(name, tiny))
        if problems:
            raise UserError(problems)


def _nothing_installed(name: str | None, tiny: bool) -> str:
    """What to run, when there is nothing to verify."""
    if name and tiny:
        return f"tiny model {name} is not installed; run `wanflow models make-tiny`"
    if name:
        return f"model {name} is not installed (real or tiny); run `wanflow models pull {name}`, or `wanflow models make-tiny` for the tiny one"
    if tiny:
        return f"no tiny models in {models_root()}; run `wanflow models make-tiny`"
    return f"no models installed in {models_root()}; run `wanflow models pull NAME` (real) or `wanflow models make-tiny` (tiny)"


@models_app.command("make-tiny")
def make_tiny_command(
    out: Annotated[
        Path | None, typer.Option("--out", help="folder to write into (default: <models root>/tiny)")
    ] = None,
) -> None:
    """Write tiny random-weight models of all three backends (offline tests and previews)."""
    with user_errors():
        from wanflow.backends.tiny import make_tiny_models

        with console.status("writing tiny models"):
            written = make_tiny_models(out)
        for backend_id, folder in written.items():
            console.print(f"[green]wrote[/] {backend_id}: {folder} fingerprint {weights_fingerprint(folder)[:16]}")


def register(app: typer.Typer) -> None:
    app.add_typer(models_app, name="models")
