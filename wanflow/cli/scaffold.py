"""What `wanflow init` writes: a storyboard repository that validates, deploys and commits cleanly."""

from __future__ import annotations

import json
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from wanflow.atomic import write_text_atomic
from wanflow.errors import Problem, UserError
from wanflow.storyboard.load import film_json_schema

FLOW_ENTRYPOINT = "wanflow.run.flow:render_film"
WORK_POOL = "wanflow-gpu"
SCHEMA_FILE = "wanflow.schema.json"

EXAMPLE_FILM = """\
# yaml-language-server: $schema=../wanflow.schema.json
# A storyboard: `wanflow validate specs/film.yaml` checks it, `wanflow run specs/film.yaml` films it.
# Every key of the format: `wanflow keys`; the cinematography terms: `wanflow vocab`.
wanflow: 1
title: 灯塔
lang: zh

defaults:
  duration: 3
  look: {color_tone: [冷色调], time_of_day: 黄昏}

characters:
  keeper: 穿着深蓝色旧毛衣、头发花白的灯塔看守人

titles:
  opening: 灯塔

scenes:
  - id: lighthouse
    title: 黄昏的灯塔
    shots:
      - id: coast
        scene: 海浪拍打着礁石，远处一座白色灯塔矗立在悬崖上
        look: {shot_size: 全景, shot_type: 定场镜头, lens: 广角}
        camera: [镜头推进]
        transition: dissolve

      - id: keeper
        subject: "{keeper}"
        action: 点亮灯塔顶端的灯，抬头望向海面
        scene: 灯塔顶层的灯室，玻璃窗外是暗下来的海
        look: {shot_size: 中近景, lighting: [边缘光], light_source: 火光}
        emotion: 平静
        caption: 今夜也有船要回家

      - id: beam
        continue_from: keeper
        action: 灯光旋转着扫过海面
        camera: [镜头拉远]
"""

GITIGNORE = """\
# wanflow caches (embeddings, latents, clips, soundtrack mixes) and rendered films
.wanflow/
out/
"""

PRE_COMMIT = """\
# Checks every storyboard before it is committed: `pre-commit install` once.
repos:
  - repo: local
    hooks:
      - id: wanflow-validate
        name: wanflow validate
        entry: wanflow validate
        language: system
        files: ^specs/.*\\.ya?ml$
"""


def prefect_yaml(project: str, specs: list[str], profile: str = "final") -> str:
    """Prefect deployment definitions: one deployment per spec on a process work pool."""
    lines = [
        "# Prefect deployments for this storyboard repository: one per spec.",
        "# Run from the repository root (it becomes the flow's working directory):",
        f"#   prefect work-pool create {WORK_POOL} --type process",
        "#   prefect --no-prompt deploy --all --prefect-file flows/prefect.yaml",
        f"#   prefect worker start --pool {WORK_POOL} --limit 1     # on each GPU machine",
        "# Schedules need a running `prefect server start` (or Prefect Cloud).",
        "# Once per server, so a run whose machine dies is marked Crashed instead of Running forever",
        "# (flows/automations.yaml; the first run against a server installs it too):",
        "#   wanflow server setup",
        f"name: {project}",
        f"prefect-version: {_prefect_version()}",
        "",
        "# Workers run every flow in the folder `prefect deploy` ran from ($PWD, resolved at deploy",
        "# time), so specs/ and out/ resolve there: every GPU machine must see it at that path.",
        "pull:",
        "  - prefect.deployments.steps.set_working_directory:",
        '      directory: "{{ $PWD }}"',
        "",
        "deployments:",
    ]
    for spec in specs:
        stem = Path(spec).stem
        lines += [
            f"  - name: {stem}-{profile}",
            f"    description: Render {spec} with the {profile} profile.",
            f"    entrypoint: {FLOW_ENTRYPOINT}",
            "    parameters:",
            f"      spec: {spec}",
            f"      profile: {profile}",
            "      # cluster: tcp://render-host:8786   # render on a Dask cluster (docs/deployments.md)",
            "    work_pool:",
            f"      name: {WORK_POOL}",
            "    schedules:",
            '      - cron: "0 2 * * *"  # every night at 02:00; set active: true to use it',
            "        timezone: UTC",
            "        active: false",
        ]
    return "\n".join(lines) + "\n"


def zombie_automation_yaml() -> str:
    """flows/automations.yaml: the automation `wanflow server setup` (or a first run) installs, to read or adapt."""
    import yaml

    from wanflow.run.heartbeat import zombie_automation

    header = (
        "# Prefect's documented zombie-run automation, for wanflow's render-film runs only. A running\n"
        "# render-film flow sends a heartbeat every 30 s; when the machine running it dies, the heartbeats\n"
        "# stop and this marks the run Crashed instead of leaving it Running forever.\n"
        "# `wanflow server setup` installs it on the server of PREFECT_API_URL (the first run against a\n"
        "# server does too); or by hand: prefect automation create --from-file flows/automations.yaml\n"
    )
    automations = {"automations": [zombie_automation()]}
    return header + yaml.safe_dump(automations, sort_keys=False, allow_unicode=True, width=120)


def scaffold_files(project: str) -> dict[str, str]:
    """Relative path -> text of every file `wanflow init` writes."""
    return {
        "specs/film.yaml": EXAMPLE_FILM,
        "flows/prefect.yaml": prefect_yaml(project, ["specs/film.yaml"]),
        "flows/automations.yaml": zombie_automation_yaml(),
        ".gitignore": GITIGNORE,
        ".pre-commit-config.yaml": PRE_COMMIT,
        SCHEMA_FILE: json.dumps(film_json_schema(), ensure_ascii=False, indent=2) + "\n",
    }


def write_scaffold(target: Path) -> list[Path]:
    """Write the scaffold into `target`; refuses (writing nothing) if any file exists."""
    files = scaffold_files(target.resolve().name or "films")
    existing = [target / name for name in files if (target / name).exists()]
    if existing:
        raise UserError(
            [Problem(str(path), None, None, "", "already exists; wanflow init never overwrites") for path in existing]
        )
    if target.exists() and not target.is_dir():
        raise UserError(Problem(str(target), None, None, "", "is a file, not a folder"))
    written = []
    for name, text in files.items():
        path = target / name
        write_text_atomic(path, text)
        written.append(path)
    return written


def _prefect_version() -> str:
    try:
        return version("prefect")
    except PackageNotFoundError:
        return "3"
