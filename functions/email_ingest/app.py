"""Email ingest: POST /<provider> on this function's URL (e.g. /sendgrid).

Authenticates, translates and queues; all provider knowledge lives in the ciohooks layer.
"""

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from ciohooks.handlers import ingest_app_from_environment

logger = Logger()
app = ingest_app_from_environment("email")


@logger.inject_lambda_context(correlation_id_path=correlation_paths.LAMBDA_FUNCTION_URL)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
