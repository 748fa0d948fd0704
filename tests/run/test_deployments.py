"""What `wanflow init` scaffolds deploys and runs on a real Prefect server, as a studio uses it.

One `prefect server start` for the module (its scheduler included); everything else goes through
the commands a user types: `wanflow init`, `prefect work-pool create`, `prefect deploy`,
`prefect deployment run`, `prefect worker start`. The run renders with the tiny models.
"""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from servers import BIN, Server

from wanflow.media.ffmpeg import probe

POOL = "wanflow-gpu"
DEPLOYMENT = "render-film/film-final"
SET_WORKING_DIRECTORY = "prefect.deployments.steps.set_working_directory"
# The scaffolded spec, made quick: tiny models, 128x80, 2 steps, 0.75 s shots (the example's
# 0.5 s dissolve needs a longer shot than 0.5 s).
TEST_PROFILE = "profiles:\n  test: {text: t2v-a14b, image: i2v-a14b, size: 128x80, steps: 2, tiny: true}\n\n"


@dataclass(frozen=True)
class Studio:
    server: Server
    repo: Path  # the storyboard repository `wanflow init` wrote
    cache: Path  # the cache path passed as the `cache` parameter (a shared filesystem in a studio)


def _run(args: list[str], server: Server, cwd: Path, timeout: float = 60) -> str:
    # PWD as a shell sets it after `cd`: the scaffold's pull step reads it at deploy time
    env = {**server.env, "PWD": str(cwd)}
    completed = subprocess.run(args, check=False, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert completed.returncode == 0, f"{' '.join(args)}\n{completed.stdout[-3000:]}\n{completed.stderr[-3000:]}"
    return completed.stdout + completed.stderr


def _deploy(studio: Studio) -> None:
    _run(
        [str(BIN / "prefect"), "--no-prompt", "deploy", "--all", "--prefect-file", "flows/prefect.yaml"],
        studio.server,
        studio.repo,
    )


@pytest.fixture(scope="module")
def studio(prefect_server: Server, tiny_models_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Studio:
    """A scaffolded storyboard repository, its work pool created and its prefect.yaml deployed."""
    base = tmp_path_factory.mktemp("studio")
    repo = base / "films"
    _run([str(BIN / "wanflow"), "init", str(repo)], prefect_server, base)
    spec = repo / "specs" / "film.yaml"
    text = spec.read_text(encoding="utf-8")
    assert "\ndefaults:\n  duration: 3\n" in text
    spec.write_text(
        text.replace("\ndefaults:\n  duration: 3\n", f"\n{TEST_PROFILE}defaults:\n  duration: 0.75\n"), encoding="utf-8"
    )
    _run([str(BIN / "prefect"), "work-pool", "create", POOL, "--type", "process"], prefect_server, base)
    studio = Studio(prefect_server, repo, base / "shared-cache")
    _deploy(studio)
    return studio


def _scheduled_runs(client, deployment_id) -> list:
    from prefect.client.schemas.filters import (
        DeploymentFilter,
        DeploymentFilterId,
        FlowRunFilter,
        FlowRunFilterState,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType

    return client.read_flow_runs(
        deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment_id])),
        flow_run_filter=FlowRunFilter(
            state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.SCHEDULED]))
        ),
    )


def test_deploy_registers_the_scaffolded_deployment_as_written(studio: Studio) -> None:
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        deployment = client.read_deployment_by_name(DEPLOYMENT)
    assert deployment.entrypoint == "wanflow.run.flow:render_film"
    assert deployment.parameters == {"spec": "specs/film.yaml", "profile": "final"}
    assert deployment.work_pool_name == POOL
    (schedule,) = deployment.schedules
    assert (schedule.schedule.cron, schedule.schedule.timezone, schedule.active) == ("0 2 * * *", "UTC", False)
    assert deployment.pull_steps == [{SET_WORKING_DIRECTORY: {"directory": str(studio.repo)}}]
    # the flow's parameter schema reached the server: the UI's run form offers every option
    schema = deployment.parameter_openapi_schema["properties"]
    assert set(schema) >= {"spec", "profile", "only", "force", "out", "cache", "settings", "cluster", "workers", "gpus"}
    assert deployment.parameter_openapi_schema["required"] == ["spec"]
    assert not deployment.job_variables  # the flow beats by itself (wanflow.run.heartbeat)


def test_the_scaffolded_zombie_automation_is_accepted_by_the_server(studio: Studio) -> None:
    """A run whose machine dies is marked Crashed by this automation instead of staying Running."""
    from prefect.client.orchestration import get_client

    _run(
        [str(BIN / "prefect"), "automation", "create", "--from-file", "flows/automations.yaml"],
        studio.server,
        studio.repo,
    )
    with get_client(sync_client=True) as client:
        automations = client.read_automations_by_name("wanflow-crash-zombie-flow-runs")
    assert automations  # the file's; a run's first heartbeat on this server may have made the same one
    for automation in automations:
        assert automation.enabled
        assert automation.trigger.posture == "Proactive" and automation.trigger.within.total_seconds() == 90
        related = automation.trigger.match_related  # wanflow's runs only: other flows may beat every 180 s
        related = related if isinstance(related, list) else [related]
        assert [r.model_dump() for r in related] == [
            {"prefect.resource.role": "flow", "prefect.resource.name": "render-film"}
        ]
        assert [action.type for action in automation.actions] == ["change-flow-run-state"]
        assert automation.actions[0].state.value == "CRASHED"


def test_a_worker_elsewhere_renders_a_triggered_run_in_the_repository(studio: Studio, tmp_path: Path) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        ArtifactFilter,
        ArtifactFilterFlowRunId,
        DeploymentFilter,
        DeploymentFilterId,
    )

    _run(
        [
            str(BIN / "prefect"),
            "deployment",
            "run",
            DEPLOYMENT,
            "--param",
            "profile=test",
            "--param",
            f"cache={studio.cache}",
        ],
        studio.server,
        studio.repo,
    )
    worker_machine = tmp_path / "worker"  # not the repository: the pull step must move there
    worker_machine.mkdir()
    _run(
        [str(BIN / "prefect"), "worker", "start", "--pool", POOL, "--run-once"],
        studio.server,
        worker_machine,
        timeout=240,
    )

    with get_client(sync_client=True) as client:
        deployment = client.read_deployment_by_name(DEPLOYMENT)
        (run,) = client.read_flow_runs(deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment.id])))
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[run.id]))
        )
    assert run.state.is_completed(), run.state
    assert run.name == "specs/film.yaml:test"
    assert run.parameters == {"spec": "specs/film.yaml", "profile": "test", "cache": str(studio.cache)}

    film = studio.repo / "out" / "film" / "film.mp4"
    info = probe(film)
    assert info.frames > 0 and (info.width, info.height) == (128, 80)
    assert sorted(p.name for p in (studio.repo / "out" / "film" / "clips").iterdir()) == [
        "beam.mp4",
        "coast.mp4",
        "keeper.mp4",
    ]
    assert len(list((studio.cache / "clips").glob("*/*/"))) == 3  # the cache parameter was honoured
    assert not (studio.repo / "specs" / ".wanflow").exists() and not (studio.repo / ".wanflow").exists()

    by_type = {artifact.type: artifact for artifact in artifacts}
    assert set(by_type) == {"table", "progress", "markdown"}
    assert float(by_type["progress"].data) == 100.0
    from wanflow.report.markdown import markdown_file_link

    assert markdown_file_link(str(film), str(film)) in by_type["markdown"].data  # escaped text, a file: link
    assert all(shot in by_type["table"].data for shot in ("coast", "keeper", "beam"))


def test_an_active_schedule_makes_the_server_schedule_runs(studio: Studio) -> None:
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        deployment = client.read_deployment_by_name(DEPLOYMENT)
        assert _scheduled_runs(client, deployment.id) == []  # `active: false` as scaffolded: nothing queued

        flows_file = studio.repo / "flows" / "prefect.yaml"
        text = flows_file.read_text(encoding="utf-8")
        assert text.count("active: false") == 1
        flows_file.write_text(text.replace("active: false", "active: true"), encoding="utf-8")
        _deploy(studio)
        assert [s.active for s in client.read_deployment_by_name(DEPLOYMENT).schedules] == [True]

        deadline = time.monotonic() + 30
        while not (runs := _scheduled_runs(client, deployment.id)) and time.monotonic() < deadline:
            time.sleep(1)
    assert runs, "the server's scheduler made no run within 30 s"
    for run in runs:
        start = run.expected_start_time
        assert (start.hour, start.minute, str(start.tzinfo)) == (2, 0, "UTC"), start
        assert run.auto_scheduled and run.parameters == {"spec": "specs/film.yaml", "profile": "final"}
