"""Shared pytest fixtures: the servers the integration tests talk to over real protocols.

Fixtures (see tests/support/* for the full APIs):

- ``cio_standin`` (function): a fresh, running :class:`~tests.support.standin.CioStandin` with the
  default API key (``cio_standin.api_key``, ``cio_standin.base_url``).
- ``make_cio_standin(**kwargs)`` (function): more stand-ins, or one with other options
  (``api_key=``, ``require_strict=``, ``require_message_id=``, ``max_event_bytes=``, ...).
- ``sqs_emulator`` / ``sqs_endpoint`` / ``sqs_client`` (session): moto's server in a subprocess / its
  URL / a boto3 SQS client for it.
- ``sqs_queues`` (function): the emulator reset, then a fresh DeliveryQueue + DeadLetterQueue pair
  (:class:`~tests.support.sqs_emulator.SqsQueues`; maxReceiveCount 3, VisibilityTimeout 2 s).
  Override per test with ``@pytest.mark.sqs_queues(max_receive_count=2, visibility_timeout=1)``.
- ``make_sqs_queues(**kwargs)`` (function): the emulator reset, then as many pairs as the test
  asks for (``max_receive_count=``, ``visibility_timeout=``, ``prefix=``, ``fifo=``).
- ``lambda_rie(handler, cwd, pythonpath=None, env=None, **kwargs)`` (function): a started
  :class:`~tests.support.rie.LambdaRie`, stopped at teardown. Without the RIE binary (.venv-sam) the
  test fails when CI is set and is skipped otherwise.

For the whole session the environment carries dummy AWS credentials and region us-east-1, and
AWS_PROFILE (and other ways to real credentials or endpoints) are removed: no test can reach AWS.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:  # so that `tests.support` imports however pytest was started
    sys.path.insert(0, str(REPO_ROOT))
try:  # the package is installed editable in .venv; fall back to the source tree
    import ciohooks  # noqa: F401
except ImportError:  # pragma: no cover
    sys.path.insert(0, str(REPO_ROOT / "shared"))

from tests.support import require  # noqa: E402

# ---- hypothesis: deterministic unless asked ------------------------------------------------------
# "ci" (the default, so also whenever CI is set): derandomized, no example database, so every run
# on every machine draws the same examples and a failure reproduces; property tests can neither
# flake nor go blind on a lucky draw. "fuzz" (`make fuzz`, HYPOTHESIS_PROFILE=fuzz): fresh random
# draws and many more of them; whatever it finds is added to the test as an explicit @example.
from hypothesis import HealthCheck, settings as hypothesis_settings  # noqa: E402

hypothesis_settings.register_profile("ci", derandomize=True, database=None, deadline=None, print_blob=True)
hypothesis_settings.register_profile(
    "fuzz", derandomize=False, database=None, deadline=None, print_blob=True, max_examples=4000,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or "ci")

# Data hygiene: every log line and DLQ reason of the run is searched for secrets and personal data.
pytest_plugins = ["tests.support.hygiene"]
from tests.support.rie import LambdaRie, RieUnavailable, find_rie_binary  # noqa: E402
from tests.support.sqs_emulator import SANDBOX_ENV, SANDBOX_UNSET, MotoServer, SqsQueues  # noqa: E402
from tests.support.sqs_emulator import sqs_client as make_sqs_client  # noqa: E402
from tests.support.standin import CioStandin  # noqa: E402


def pytest_configure(config: pytest.Config) -> None:
    # Before collection, so that module-level boto3 clients in the code under test see it too.
    for name in SANDBOX_UNSET:
        os.environ.pop(name, None)
    os.environ.update(SANDBOX_ENV)
    config.addinivalue_line(
        "markers", "sqs_queues(**kwargs): options for the sqs_queues fixture (max_receive_count, visibility_timeout, fifo)")


# ---- Customer.io stand-in ------------------------------------------------------------------------


@pytest.fixture
def cio_standin():
    with CioStandin() as standin:
        yield standin


@pytest.fixture
def make_cio_standin():
    started: list[CioStandin] = []

    def make(**kwargs) -> CioStandin:
        standin = CioStandin(**kwargs).start()
        started.append(standin)
        return standin

    yield make
    for standin in started:
        standin.stop()


# ---- SQS emulator --------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def sqs_emulator():
    server = MotoServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def sqs_endpoint(sqs_emulator: MotoServer) -> str:
    return sqs_emulator.url


@pytest.fixture(scope="session")
def sqs_client(sqs_emulator: MotoServer):
    """A boto3 SQS client for the emulator (dummy credentials), shared by the session."""
    return make_sqs_client(sqs_emulator.url)


@pytest.fixture
def make_sqs_queues(sqs_emulator: MotoServer, sqs_client):
    if not sqs_emulator.alive():
        pytest.fail(f"the moto server died; its log: {sqs_emulator.log_path}")
    sqs_emulator.reset()  # every test starts from an empty emulator

    def make(**kwargs) -> SqsQueues:
        kwargs.setdefault("client", sqs_client)
        return SqsQueues.create(sqs_emulator.url, **kwargs)

    return make


@pytest.fixture
def sqs_queues(request: pytest.FixtureRequest, make_sqs_queues) -> SqsQueues:
    marker = request.node.get_closest_marker("sqs_queues")
    return make_sqs_queues(**(dict(marker.kwargs) if marker else {}))


# ---- Lambda Runtime Interface Emulator -------------------------------------------------------------


def _require_rie() -> None:
    try:
        find_rie_binary()
    except RieUnavailable as exc:
        require("Lambda Runtime Interface Emulator", True, str(exc))


@pytest.fixture
def lambda_rie():
    _require_rie()
    started: list[LambdaRie] = []

    def start(handler: str, cwd, pythonpath=None, env=None, **kwargs) -> LambdaRie:
        rie = LambdaRie(handler, cwd, pythonpath, env, **kwargs).start()
        started.append(rie)
        return rie

    yield start
    for rie in started:
        rie.stop()
