"""Start the durable engine in this process, with every flow registered and its queue declared.

Above ``handoff.engine.flows`` (whose flow modules must be imported before the engine launches)
and ``handoff.engine.runtime`` (the hub it launches for): the runtime knows nothing of flows.
"""

from __future__ import annotations

from dbos import DBOS, DBOSConfig

from handoff.engine import batches, flows
from handoff.engine.runtime import APP_NAME, APP_VERSION, Hub, default_executor_id


def launch(hub: Hub, *, executor_id: str | None = None, run_queues: bool = True) -> None:
    """Start the durable engine in this process: recover this executor's pending flows and,
    with ``run_queues``, take work from every flow queue."""
    # Importing the flow modules registers their workflows, which must happen before launch.
    flows.load_flow_modules(hub.settings)
    flows.batching_flows(hub.settings)  # a batch setting for a flow that takes none: refused
    config: DBOSConfig = {
        "name": APP_NAME,
        "system_database_url": hub.system_database_url(),
        "application_version": APP_VERSION,
        "executor_id": executor_id or default_executor_id(),
        "log_level": hub.settings.runtime.engine_log_level,  # handoff.yaml runtime:
        "notification_listener_polling_interval_sec": 0.1,
        "scheduler_polling_interval_sec": 5.0,
    }
    if not run_queues:
        config["max_executor_threads"] = 8
    DBOS(config=config)
    DBOS.launch()
    for spec in flows.queue_specs(hub.settings):
        DBOS.register_queue(
            spec.name,
            global_concurrency=spec.concurrency,
            worker_concurrency=spec.worker_concurrency,
            partition_concurrency=1,
            limiter=spec.limiter,
            polling_interval_sec=spec.polling_interval_sec,
            on_conflict="always_update",
        )
    hub.launched = True
    if run_queues:  # the processes that run flows dispatch the batching flows' groups
        hub.dispatcher = batches.Dispatcher(hub)
        hub.dispatcher.start()
