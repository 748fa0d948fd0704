"""A flow run that dies is marked Crashed: heartbeats while it runs, and the automation that watches them.

Nothing reports the end of a flow run whose machine died (`kill -9`, a power cut, an out-of-memory
kill): Prefect leaves it Running forever. Its documented fix is a heartbeat event every few
seconds and an automation that crashes a run whose heartbeats stop. Prefect's own heartbeat
thread sleeps in 1 s steps and is joined at the end of every flow run (about 1 s the user of
`wanflow run` waits). So wanflow beats from a daemon thread of its own: nothing joins it, it
stops once the flow run's state is final, and it ends with its process, which is the point.

Its first act, off the run's path, is to make sure the server has the automation (scoped to
wanflow's `render-film` runs; `wanflow server setup` installs it too). A run reporting to the
temporary server of a `wanflow run` does not beat: that server dies with the run.
"""

from __future__ import annotations

import contextvars
import threading
import time

AUTOMATION_NAME = "wanflow-crash-zombie-flow-runs"
FLOW_NAME = "render-film"

_watched = [True]  # False while a run reports to a server nobody watches (the temporary one)


def heartbeat_seconds() -> int:
    """Between two heartbeats of a running flow run (WANFLOW_HEARTBEAT_SECONDS, 30; 0: none)."""
    from wanflow import settings

    return settings.current().heartbeat_seconds


def silence_time() -> int:
    """How long heartbeats may stop before the run is crashed: three missed beats (Prefect's least: 10 s)."""
    return max(10, 3 * heartbeat_seconds())


def unwatched() -> None:
    """This process reports to a server that dies with it: no heartbeats, no automation."""
    _watched[0] = False


def zombie_automation() -> dict:
    """Prefect's documented zombie-run automation, for wanflow's flow only (other flows may beat less often)."""
    silence = silence_time()
    return {
        "name": AUTOMATION_NAME,
        "description": f"Crash {FLOW_NAME} flow runs whose heartbeats stopped: the machine running them died.",
        "trigger": {
            "type": "event",
            "posture": "Proactive",
            "after": ["prefect.flow-run.heartbeat"],
            "expect": [
                "prefect.flow-run.heartbeat",
                "prefect.flow-run.Completed",
                "prefect.flow-run.Failed",
                "prefect.flow-run.Cancelled",
                "prefect.flow-run.Crashed",
            ],
            "match": {"prefect.resource.id": ["prefect.flow-run.*"]},
            "match_related": {"prefect.resource.role": "flow", "prefect.resource.name": FLOW_NAME},
            "for_each": ["prefect.resource.id"],
            "threshold": 1,
            "within": silence,
        },
        "actions": [
            {
                "type": "change-flow-run-state",
                "state": "CRASHED",
                "message": f"No heartbeat for {silence} s: the machine running this flow run is gone. "
                "Run it again to resume from the cache.",
            }
        ],
    }


def ensure_automation(update: bool = True) -> str:
    """Create the automation on the configured server, or bring it up to date (`update`: a run only
    creates a missing one, so a machine beating faster never shortens the silence others are allowed).
    Returns what it did."""
    from prefect.client.orchestration import get_client
    from prefect.events.schemas.automations import AutomationCore

    wanted = AutomationCore.model_validate(zombie_automation())
    with get_client(sync_client=True) as client:
        existing = client.read_automations_by_name(AUTOMATION_NAME)
        if not existing:
            client.create_automation(wanted)
            return "created"
        if not update:
            return "already there"
        current = AutomationCore.model_validate(existing[0].model_dump(include=set(AutomationCore.model_fields)))
        if current == wanted:
            return "already there"
        client.update_automation(existing[0].id, wanted)
        return "updated"


def setup_server() -> tuple[str, str]:
    """`wanflow server setup`: the automation on the server of PREFECT_API_URL. Returns (url, what it did)."""
    from prefect.settings import PREFECT_API_URL

    from wanflow.errors import Problem, UserError

    url = PREFECT_API_URL.value()
    if not url:
        raise UserError(
            Problem("wanflow", None, None, "PREFECT_API_URL", "is not set: point it at your `prefect server start`")
        )
    try:
        return url, ensure_automation(update=True)
    except Exception as error:  # the server's own words: unreachable, refused
        raise UserError(Problem("wanflow", None, None, "PREFECT_API_URL", f"{url}: {error}")) from None


def beating() -> None:
    """Beat for the current flow run, in the background, until its state is final. Returns at once."""
    seconds = heartbeat_seconds()
    if not _watched[0] or seconds <= 0:
        return
    from prefect.context import FlowRunContext

    context = FlowRunContext.get()
    if context is None or context.flow_run is None:
        return
    flow_run = context.flow_run
    resource = {"prefect.resource.id": f"prefect.flow-run.{flow_run.id}", "prefect.resource.name": flow_run.name}
    related = [
        {
            "prefect.resource.id": f"prefect.flow.{flow_run.flow_id}",
            "prefect.resource.role": "flow",
            "prefect.resource.name": context.flow.name if context.flow else FLOW_NAME,
        }
    ]
    if flow_run.deployment_id:
        related.append(
            {
                "prefect.resource.id": f"prefect.deployment.{flow_run.deployment_id}",
                "prefect.resource.role": "deployment",
            }
        )

    def beat() -> None:
        from prefect.events import emit_event
        from prefect.logging import get_logger

        try:
            ensure_automation(update=False)
        except Exception as error:  # a server without automations (or no right to make one) still gets beats
            get_logger("wanflow").debug(f"zombie automation not installed: {error}")
        while flow_run.state is None or not flow_run.state.is_final():
            emit_event(event="prefect.flow-run.heartbeat", resource=resource, related=related)
            time.sleep(seconds)

    threading.Thread(target=contextvars.copy_context().run, args=(beat,), name="wanflow-heartbeat", daemon=True).start()
