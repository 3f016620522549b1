"""Deliver: DeliveryQueue batches to Customer.io's /v1/batch, partial failures reported to SQS."""

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from ciohooks.handlers import DeliverApp

logger = Logger()
app = DeliverApp.from_environment()


@logger.inject_lambda_context
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.handle(event, context)
