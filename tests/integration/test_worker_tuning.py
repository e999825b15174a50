"""Worker tuning settings reach the Temporal worker, and the sandbox passes the pure modules through."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import PollerBehaviorAutoscaling, PollerBehaviorSimpleMaximum
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

from plumbing.settings import Settings
from worker import SANDBOX_PASSTHROUGH, build_worker


async def test_tuning_settings_configure_the_worker(
    time_skipping_env: WorkflowEnvironment,
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    tuned = settings.model_copy(
        update={
            "worker_max_cached_workflows": 321,
            "worker_max_concurrent_workflow_tasks": 17,
            "worker_max_concurrent_activities": 23,
            "worker_max_concurrent_local_activities": 29,
            "worker_max_pollers": 9,
        }
    )
    config = build_worker(time_skipping_env.client, tuned, sessions).config()
    assert config.get("max_cached_workflows") == 321
    assert config.get("max_concurrent_workflow_tasks") == 17
    assert config.get("max_concurrent_activities") == 23
    assert config.get("max_concurrent_local_activities") == 29
    assert config.get("workflow_task_poller_behavior") == PollerBehaviorAutoscaling(
        minimum=1, maximum=9, initial=5
    )
    assert config.get("activity_task_poller_behavior") == PollerBehaviorAutoscaling(
        minimum=1, maximum=9, initial=5
    )

    fixed = build_worker(
        time_skipping_env.client,
        tuned.model_copy(
            update={
                "worker_poller_autoscaling": False,
                "temporal_task_queue": f"{tuned.temporal_task_queue}-b",
            }
        ),
        sessions,
    ).config()
    assert fixed.get("workflow_task_poller_behavior") == PollerBehaviorSimpleMaximum(maximum=9)

    runner = config.get("workflow_runner")
    assert isinstance(runner, SandboxedWorkflowRunner)
    assert {"domain", "pydantic"} <= set(SANDBOX_PASSTHROUGH)
    assert set(SANDBOX_PASSTHROUGH) <= runner.restrictions.passthrough_modules
