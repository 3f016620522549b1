"""The Lambda Runtime Interface Emulator harness: a real invoke through awslambdaric, no Docker."""

from __future__ import annotations

import os
import textwrap

import pytest

from tests.support.rie import LambdaInvokeError, is_error

pytestmark = pytest.mark.integration

APP = '''
import json, os, sys

COLD = {"n": 0}

def handler(event, context):
    COLD["n"] += 1
    return {
        "echo": event,
        "invocation": COLD["n"],
        "function_name": context.function_name,
        "request_id": context.aws_request_id,
        "remaining_ms": context.get_remaining_time_in_millis(),
        "my_var": os.environ.get("MY_VAR"),
        "leak": os.environ.get("CIOHOOKS_TEST_LEAK"),
        "aws_profile": os.environ.get("AWS_PROFILE"),
        "access_key": os.environ.get("AWS_ACCESS_KEY_ID"),
        "cwd": os.getcwd(),
    }

def boom(event, context):
    raise ValueError("kaboom " + str(event.get("n")))

def import_pydantic(event, context):
    import pydantic
    return pydantic.VERSION

def uses_lib(event, context):
    import mylib
    return mylib.answer()
'''


@pytest.fixture
def function_dir(tmp_path):
    (tmp_path / "app.py").write_text(APP)
    return tmp_path


def test_invoke_a_trivial_handler(lambda_rie, function_dir, monkeypatch):
    monkeypatch.setenv("CIOHOOKS_TEST_LEAK", "should-not-be-seen")
    monkeypatch.setenv("AWS_PROFILE", "should-not-be-seen")
    rie = lambda_rie("app.handler", function_dir, env={"MY_VAR": "42"}, function_name="EchoFunction")
    payload, cold = rie.invoke({"hello": "world"})
    assert payload["echo"] == {"hello": "world"}
    assert payload["function_name"] == "EchoFunction"
    assert isinstance(payload["request_id"], str) and payload["request_id"]
    assert 0 < payload["remaining_ms"] <= 30_000
    assert payload["my_var"] == "42"
    assert payload["leak"] is None and payload["aws_profile"] is None  # env -i: only what we pass
    assert payload["access_key"] == "testing"
    assert os.path.samefile(payload["cwd"], function_dir)
    warm_payload, warm = rie.invoke({"n": 2})
    assert warm_payload["invocation"] == 2  # same runtime process: warm
    assert cold < 10 and warm < 2
    assert "REPORT RequestId" in rie.logs()


def test_exception_comes_back_as_200_with_error_message(lambda_rie, function_dir):
    rie = lambda_rie("app.boom", function_dir)
    payload, _ = rie.invoke({"n": 7})
    assert is_error(payload)
    assert payload["errorType"] == "ValueError"
    assert payload["errorMessage"] == "kaboom 7"
    with pytest.raises(LambdaInvokeError, match="ValueError: kaboom 8"):
        rie.invoke({"n": 8}, raise_on_error=True)


def test_isolated_runtime_sees_only_its_pythonpath(lambda_rie, function_dir, tmp_path_factory):
    lib = tmp_path_factory.mktemp("layer")
    (lib / "mylib.py").write_text(textwrap.dedent("""
        def answer():
            return 42
    """))
    rie = lambda_rie("app.import_pydantic", function_dir, isolated=True)
    payload, _ = rie.invoke({})
    assert is_error(payload) and "pydantic" in payload["errorMessage"]  # not in the "deployment"
    rie2 = lambda_rie("app.uses_lib", function_dir, pythonpath=[lib], isolated=True)
    payload, _ = rie2.invoke({})
    assert payload == 42


def test_stop_leaves_no_process_behind(lambda_rie, function_dir):
    rie = lambda_rie("app.handler", function_dir)
    rie.invoke({})
    pgid = rie.proc.pid
    rie.stop()
    with pytest.raises(ProcessLookupError):
        os.killpg(pgid, 0)
