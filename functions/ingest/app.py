"""Ingest: POST /<source> on a family's Function URL (email: /sendgrid ...; video; mobile).

One code directory serves the three ingest functions; ``CIOHOOKS_FAMILY`` says which sources a
function answers for. It authenticates, translates and queues; provider knowledge lives in the layer.
Tracing is Lambda's own (Tracing: Active): the X-Ray SDK would add ~0.4 s to every cold start that
a provider waits on, for a function whose only downstream call is one SQS SendMessage.
"""

import logging
import os

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from aws_lambda_powertools.utilities.typing import LambdaContext

from ciohooks.gcpause import collector_paused, freeze_after_init
from ciohooks.handlers import ingest_function

logger = Logger()
# The library logs through standard logging: give its loggers this Logger's JSON format, level and
# correlation id, so its lines reach CloudWatch (Lambda leaves the root logger at WARNING).
logging.getLogger("ciohooks")
copy_config_to_registered_loggers(source_logger=logger, include={"ciohooks"})
metrics = Metrics()
# Function URL requests, and (email) the SES events an EventBridge rule hands the function.
handle = ingest_function(os.environ["CIOHOOKS_FAMILY"])

freeze_after_init()  # what init built is never scanned again


@logger.inject_lambda_context(correlation_id_path=correlation_paths.LAMBDA_FUNCTION_URL)
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    with collector_paused():  # no collection in the middle of a request (ciohooks.gcpause)
        return handle(event, context)
