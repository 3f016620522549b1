"""Video sweep: every minute (EventBridge schedule), close the gaps of video sessions whose early
beacons waited past the gap timeout, and queue the events they release (ciohooks.sources.video._sweep)."""

import logging
import time

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from aws_lambda_powertools.utilities.typing import LambdaContext

from ciohooks.sources.video._sweep import Sweep

logger = Logger()
logging.getLogger("ciohooks")
copy_config_to_registered_loggers(source_logger=logger, include={"ciohooks"})
sweep = Sweep.from_environment()
# Stop taking sessions this long before the function's timeout: one session's calls are bounded
# (ciohooks.budgets: VIDEO_SESSION 0.5 s and SQS_SEND 3 s at worst, a few of each), and what is
# left waits for the next minute.
SAFETY_SECONDS = 30


@logger.inject_lambda_context
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    report = sweep.run(stop_at=time.monotonic() + context.get_remaining_time_in_millis() / 1000 - SAFETY_SECONDS)
    if report.failed:
        # Failing the invocation feeds the Errors alarm; the next run retries those sessions.
        raise RuntimeError(f"{report.failed} video session(s) could not be swept")
    return {"sessions": report.sessions, "events": report.events}
