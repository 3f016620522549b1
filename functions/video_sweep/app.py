"""Video sweep: every minute (EventBridge schedule), close the gaps of video sessions whose early
beacons waited past the gap timeout, and queue the events they release (ciohooks.sources.video._sweep)."""

import logging

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from aws_lambda_powertools.utilities.typing import LambdaContext

from ciohooks.sources.video._sweep import Sweep

logger = Logger()
logging.getLogger("ciohooks")
copy_config_to_registered_loggers(source_logger=logger, include={"ciohooks"})
sweep = Sweep.from_environment()


@logger.inject_lambda_context
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    report = sweep.run()
    if report.failed:
        # Failing the invocation feeds the Errors alarm; the next run retries those sessions.
        raise RuntimeError(f"{report.failed} video session(s) could not be swept")
    return {"sessions": report.sessions, "events": report.events}
