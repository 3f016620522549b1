"""Deliver: DeliveryQueue batches to Customer.io's /v1/batch, partial failures reported to SQS."""

import logging

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from aws_lambda_powertools.utilities.typing import LambdaContext

from ciohooks.deliver import DeliverApp
from ciohooks.gcpause import collector_paused, freeze_after_init

logger = Logger()
# The library logs through standard logging: give its loggers this Logger's JSON format, level and
# correlation id, so its lines reach CloudWatch (Lambda leaves the root logger at WARNING).
logging.getLogger("ciohooks")
copy_config_to_registered_loggers(source_logger=logger, include={"ciohooks"})
metrics = Metrics()
tracer = Tracer()  # patches requests and botocore: each Customer.io call and SQS send is a subsegment
app = DeliverApp.from_environment()

freeze_after_init()  # what init built is never scanned again


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    with collector_paused():  # no collection in the middle of a request (ciohooks.gcpause)
        return app.handle(event, context)
