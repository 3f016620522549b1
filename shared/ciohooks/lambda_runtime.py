"""A real local Lambda invoke without Docker: the Runtime Interface Emulator (RIE) + awslambdaric.

Used by ``ciohooks invoke`` (``make invoke``), the tests (tests/support/rie.py) and the bench: one
implementation. Development-time only: nothing in a deployed function imports it.

The RIE binary ships inside the aws-sam-cli wheel (``samcli/local/rapid/aws-lambda-rie-<arch>``) in
the project's ``.venv-sam``; it is looked up at run time (the location is an implementation detail).
:class:`LambdaRie` runs::

    aws-lambda-rie-x86_64 --runtime-interface-emulator-address 127.0.0.1:<port> \\
        --runtime-api-address 127.0.0.1:<port2> <python> -m awslambdaric <module>.<handler>

in ``cwd``, with an environment built from scratch (``env -i`` style: a Lambda-like base, the
``PYTHONPATH`` and ``env`` you pass, nothing inherited), in its own process group, which
:meth:`LambdaRie.stop` kills.

With ``isolated=True`` the interpreter also runs with ``-S`` (no site-packages, no ``.pth`` files)
and only the runtime client (awslambdaric and its two dependencies) is put on ``PYTHONPATH`` next to
what you pass: a dependency missing from the function or layer fails as it would on Lambda.

Caveats: ``aws-lambda-rie --help`` is not a help flag (it hangs); the default
listen address is 0.0.0.0:8080 and the Runtime API's is a fixed 127.0.0.1:9001 (a second RIE on the
host panics with "address already in use"), so both addresses are always passed; the runtime starts lazily on the
first invoke; an exception in the handler comes back as **HTTP 200** with ``errorMessage`` /
``errorType`` in the body and no ``X-Amz-Function-Error`` header.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Iterable, Mapping


INVOKE_PATH = "/2015-03-31/functions/function/invocations"
RUNTIME_CLIENT_MODULES = ("awslambdaric", "runtime_client", "simplejson", "snapshot_restore_py")
#: Dummy credentials and region for everything run here: a local function never reaches real AWS
#: with your credentials (give it an endpoint, e.g. ``AWS_ENDPOINT_URL``, to reach an emulator).
OFFLINE_AWS_ENV: dict[str, str] = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
}


# ---- processes: a group of their own, killed together -----------------------------------------

def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago (bind to 0, read it, release it).

    There is a small race between releasing the port and the server binding it: the servers here
    detect a failed bind and retry with another port.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def wait_for_port(host: str, port: int, timeout: float, alive=lambda: True) -> bool:
    """Poll until ``host:port`` accepts a TCP connection, ``alive()`` turns false, or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive():
            return False
        try:
            with socket.create_connection((host, port), timeout=0.2):
                return True
        except OSError:
            time.sleep(0.02)
    return False


def die_with_parent() -> None:
    """``preexec_fn`` for server subprocesses: SIGTERM them when the test process dies (Linux), so a
    killed pytest leaves no emulator behind. Note that "parent" is the *thread* that started them."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM, 0, 0, 0)  # PR_SET_PDEATHSIG
    except Exception:  # noqa: BLE001 - best effort only
        pass


def kill_process_group(proc: subprocess.Popen, grace: float = 3.0) -> None:
    """SIGTERM the process group we created (``start_new_session=True``), SIGKILL what is left.

    Only ever the group whose leader is ``proc``, never anything found by name. The leader is not
    reaped before the final SIGKILL, so the group id cannot have been recycled meanwhile."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            try:
                if os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None:
                    break
            except ChildProcessError:
                break
            time.sleep(0.01)
    # the leader is gone or a zombie: kill anything of its group still running (the RIE's runtime
    # child, for one). A group id stays reserved while any member lives.
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:  # pragma: no cover - cannot happen after SIGKILL
        pass


class BackgroundProcess:
    """What the emulator harnesses share: a process group of their own and a log file, stopped
    together, usable as a context manager. Subclasses implement ``start`` (setting ``proc``,
    ``port`` and ``_log_file``) and return ``self`` from it."""

    proc: subprocess.Popen | None = None
    port: int | None = None
    _log_file = None

    def start(self):  # pragma: no cover - every subclass has its own
        raise NotImplementedError

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None:
            kill_process_group(proc)
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
        self.port = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


# ---- the emulator --------------------------------------------------------------------------------



class RieUnavailable(RuntimeError):
    """The RIE binary (or the .venv-sam that carries it) is not there."""


def rie_arch() -> str:
    machine = platform.machine().lower()
    if machine in ("x86_64", "amd64"):
        return "x86_64"
    if machine in ("aarch64", "arm64"):
        return "arm64"
    raise RieUnavailable(f"no aws-lambda-rie build for this machine ({machine})")


def find_rie_binary(repo_root: str | os.PathLike[str] | None = None) -> Path:
    """``$CIOHOOKS_RIE_BIN`` if set, else ``<repo>/.venv-sam``'s ``samcli/local/rapid/aws-lambda-rie-<arch>``
    (``repo_root`` defaults to the working directory)."""
    override = os.environ.get("CIOHOOKS_RIE_BIN")
    if override:
        path = Path(override)
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise RieUnavailable(f"CIOHOOKS_RIE_BIN={override} is not an executable file")
        return path
    return _rie_in_sam_venv(str(Path(repo_root) if repo_root else Path.cwd()))


@functools.lru_cache(maxsize=None)
def _rie_in_sam_venv(root: str) -> Path:
    sam_python = Path(root) / ".venv-sam" / "bin" / "python"
    if not sam_python.exists():
        raise RieUnavailable(f"{sam_python} not found: run `make setup` (the RIE ships in the aws-sam-cli wheel of .venv-sam)")
    try:
        out = subprocess.run([str(sam_python), "-c", "import samcli,os;print(os.path.dirname(samcli.__file__))"],
                             capture_output=True, text=True, timeout=60, env={"PATH": os.defpath})
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise RieUnavailable(f"could not run {sam_python}: {exc}") from exc
    if out.returncode != 0:
        raise RieUnavailable(f"samcli is not importable in {sam_python}: {out.stderr.strip()[-500:]}")
    binary = Path(out.stdout.strip()) / "local" / "rapid" / f"aws-lambda-rie-{rie_arch()}"
    if not (binary.is_file() and os.access(binary, os.X_OK)):
        raise RieUnavailable(f"{binary} is missing or not executable (aws-sam-cli changed its layout?)")
    return binary


@functools.lru_cache(maxsize=None)
def runtime_client_dir() -> Path:
    """A directory holding only the runtime client (symlinks), for ``isolated=True`` runs."""
    target = Path(tempfile.mkdtemp(prefix="ric-only-"))
    for name in RUNTIME_CLIENT_MODULES:
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None:
            raise RieUnavailable(f"{name} is not importable here: install awslambdaric")
        origin = Path(spec.origin)
        source = origin.parent if spec.submodule_search_locations else origin
        (target / source.name).symlink_to(source)
    return target


def build_layer_dir(root: str | os.PathLike[str], cache: str | os.PathLike[str], python: str | None = None) -> Path:
    """``/opt/python`` as the deployed layer has it (``requirements.txt`` + ``shared/ciohooks``), for
    this machine's architecture: run a function ``isolated=True`` with only this on its path, and a
    dependency missing from the layer fails as it would on Lambda.

    The dependencies are installed once per hash of requirements.txt (under ``cache``); the library
    is copied fresh every time, so a run always has the code of the working tree."""
    import hashlib
    import shutil

    root, cache = Path(root), Path(cache)
    requirements = root / "requirements.txt"
    target = cache / f"layer-{hashlib.sha256(requirements.read_bytes()).hexdigest()[:12]}"
    if not (target / ".complete").exists():
        shutil.rmtree(target, ignore_errors=True)
        subprocess.run(
            [python or sys.executable, "-m", "pip", "install", "--quiet", "--no-compile", "--target", str(target), "-r", str(requirements)],
            check=True, capture_output=True,  # pip's notes would drown the output
        )
        (target / ".complete").touch()
    layer = target.parent / f"{target.name}-with-ciohooks"
    shutil.rmtree(layer, ignore_errors=True)
    shutil.copytree(target, layer, symlinks=True)
    shutil.copytree(root / "shared" / "ciohooks", layer / "ciohooks", ignore=shutil.ignore_patterns("__pycache__"))
    return layer


def is_error(payload: Any) -> bool:
    """True for the RIE's error shape (HTTP 200 with errorMessage/errorType)."""
    return isinstance(payload, dict) and "errorType" in payload and "errorMessage" in payload


class LambdaInvokeError(AssertionError):
    def __init__(self, payload: dict[str, Any]):
        super().__init__(f"{payload.get('errorType')}: {payload.get('errorMessage')}")
        self.payload = payload


class LambdaRie(BackgroundProcess):
    """One function behind one RIE process. ``start()``, ``invoke(event)``, ``stop()``; a context manager."""

    def __init__(
        self,
        handler: str,
        cwd: str | os.PathLike[str],
        pythonpath: Iterable[str | os.PathLike[str]] | str | None = None,
        env: Mapping[str, str] | None = None,
        *,
        python: str | None = None,
        isolated: bool = False,
        function_name: str = "TestFunction",
        timeout: int = 30,
        memory_size: int = 256,
        rie_binary: str | os.PathLike[str] | None = None,
        log_path: str | os.PathLike[str] | None = None,
        start_timeout: float = 10.0,
        repo_root: str | os.PathLike[str] | None = None,
    ) -> None:
        self.handler = handler
        self.cwd = Path(cwd)
        if pythonpath is None:
            self.pythonpath: list[str] = []
        elif isinstance(pythonpath, (str, os.PathLike)):
            self.pythonpath = [os.fspath(pythonpath)]
        else:
            self.pythonpath = [os.fspath(p) for p in pythonpath]
        self.user_env = dict(env or {})
        self.python = python or sys.executable
        self.repo_root = repo_root
        self.isolated = isolated
        self.function_name = function_name
        self.timeout = timeout
        self.memory_size = memory_size
        self._rie_binary = Path(rie_binary) if rie_binary else None
        self.start_timeout = start_timeout
        self.log_path = Path(log_path) if log_path else None
        self._log_file: Any = None
        self.proc: subprocess.Popen[bytes] | None = None
        self.port: int | None = None
        self.runtime_api_port: int | None = None
        self.invocations = 0

    # -- lifecycle ------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        if self.port is None:
            raise RuntimeError("the RIE is not running")
        return f"http://127.0.0.1:{self.port}{INVOKE_PATH}"

    def environment(self) -> dict[str, str]:
        """The runtime's whole environment: a Lambda-like base, then PYTHONPATH, then ``env``."""
        path_entries = list(self.pythonpath)
        if self.isolated:
            path_entries.append(str(runtime_client_dir()))
        base = {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "LANG": "C.UTF-8",
            "TZ": ":UTC",
            "LAMBDA_TASK_ROOT": str(self.cwd),
            "AWS_LAMBDA_FUNCTION_NAME": self.function_name,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(self.memory_size),
            "AWS_LAMBDA_FUNCTION_TIMEOUT": str(self.timeout),
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{self.function_name}",
            "AWS_LAMBDA_LOG_STREAM_NAME": "local/rie",
            "PYTHONUNBUFFERED": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
            **OFFLINE_AWS_ENV,
        }
        if path_entries:
            base["PYTHONPATH"] = os.pathsep.join(path_entries)
        base.update(self.user_env)
        return {k: str(v) for k, v in base.items()}

    def command(self, port: int, runtime_api_port: int) -> list[str]:
        binary = self._rie_binary or find_rie_binary(self.repo_root)
        py = [self.python, "-S"] if self.isolated else [self.python]
        # Both addresses explicit: the invoke API defaults to 0.0.0.0:8080 and the Runtime API (the
        # one awslambdaric polls) to a fixed 127.0.0.1:9001, so two RIEs would otherwise collide.
        return [str(binary), "--runtime-interface-emulator-address", f"127.0.0.1:{port}",
                "--runtime-api-address", f"127.0.0.1:{runtime_api_port}", *py, "-m", "awslambdaric", self.handler]

    def start(self) -> "LambdaRie":
        if self.proc is not None:
            return self
        if not self.cwd.is_dir():
            raise FileNotFoundError(f"function directory {self.cwd} does not exist")
        if self.log_path is None:
            fd, name = tempfile.mkstemp(prefix=f"rie-{self.function_name}-", suffix=".log")
            os.close(fd)
            self.log_path = Path(name)
        env = self.environment()
        for _ in range(3):
            port, runtime_api_port = free_port(), free_port()
            if port == runtime_api_port:
                continue
            self._log_file = open(self.log_path, "ab")
            proc = subprocess.Popen(self.command(port, runtime_api_port), cwd=self.cwd, env=env, stdin=subprocess.DEVNULL,
                                    stdout=self._log_file, stderr=subprocess.STDOUT, start_new_session=True,
                                    preexec_fn=die_with_parent)
            alive = lambda: proc.poll() is None  # noqa: E731
            if (wait_for_port("127.0.0.1", port, self.start_timeout, alive)
                    and wait_for_port("127.0.0.1", runtime_api_port, self.start_timeout, alive) and alive()):
                self.proc, self.port, self.runtime_api_port = proc, port, runtime_api_port
                return self
            kill_process_group(proc)
            self._log_file.close()
        raise RuntimeError(f"the RIE did not start (log {self.log_path}):\n{self.logs()[-3000:]}")


    def logs(self) -> str:
        """What the RIE and the runtime printed (START/END/REPORT lines, the handler's output)."""
        try:
            return self.log_path.read_text(errors="replace") if self.log_path else ""
        except OSError:
            return ""

    # -- invoking -------------------------------------------------------------------------------

    def invoke_raw(self, event: Any, timeout: float | None = None) -> tuple[int, bytes, float]:
        """POST the event; returns (HTTP status, body bytes, seconds)."""
        if self.proc is None:
            raise RuntimeError("the RIE is not running")
        data = event if isinstance(event, bytes) else json.dumps(event).encode("utf-8")
        req = urllib.request.Request(self.url, data=data, method="POST", headers={"Content-Type": "application/json"})
        started = time.perf_counter()
        try:
            with urllib.request.urlopen(req, timeout=timeout or self.timeout + 10) as resp:
                status, body = resp.status, resp.read()
        except urllib.error.HTTPError as exc:
            status, body = exc.code, exc.read()
        duration = time.perf_counter() - started
        self.invocations += 1
        return status, body, duration

    def invoke(self, event: Any, timeout: float | None = None, *, raise_on_error: bool = False) -> tuple[Any, float]:
        """Invoke once; returns (payload decoded from JSON -- or the raw text if it is not JSON -- and
        the round-trip seconds). An exception in the handler is a payload with ``errorMessage``
        (see :func:`is_error`), or a :class:`LambdaInvokeError` with ``raise_on_error=True``."""
        status, body, duration = self.invoke_raw(event, timeout)
        text = body.decode("utf-8", "replace")
        try:
            payload: Any = json.loads(text) if text else None
        except ValueError:
            payload = text
        if status != 200:
            raise RuntimeError(f"the RIE answered HTTP {status}: {text[:500]}\n--- log ---\n{self.logs()[-2000:]}")
        if raise_on_error and is_error(payload):
            raise LambdaInvokeError(payload)
        return payload, duration
