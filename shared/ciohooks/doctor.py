"""``ciohooks doctor``: is this deployment configured and connected? Prints what is missing.

Checks, in order (each one line; a missing piece comes with the command that fixes it):

- the delivery queue and the dead-letter queue answer ``GetQueueAttributes`` (and how many messages
  wait in each; dead letters are a warning, not a failure);
- the Customer.io API key is stored where the deliver function looks for it, and Customer.io accepts
  it (see ``probe_customerio``);
- every enabled source builds with these settings (a bad value is the same ``ConfigurationError``
  ingest would answer every webhook with), has the plain settings it cannot work without
  (``Source.required_settings``, e.g. SES_TOPIC_ARNS) and one of its secrets (``Source.secret_names``),
  in the store and under the name the functions look up (``<prefix><name in lower case, _ as ->``,
  as ``config.Settings.secret`` does). With EnabledSources empty, a source with nothing configured
  is only reported (it answers 404); a listed one is MISSING (it answers 503 to every webhook);
- the video sessions table and the replay store's table exist and expire items (when the stack has
  them; without the replay table, Mailgun, SES and the Standard Webhooks sources answer 503);
- with ``--stack``, each family's Function URL answers.

The settings come from the environment (``CIOHOOKS_*``, as on Lambda or for ``ciohooks serve``) and,
with ``--stack NAME``, from that CloudFormation stack's outputs and parameters, which win. Every AWS
call goes to ``--endpoint-url`` when given (an emulator such as moto's server).

Secret values are never printed: presence is checked with ``DescribeSecret`` / ``DescribeParameters``;
only the Customer.io key is read, to authenticate the probe. Exit status 1 when something is missing
or could not be checked, else 0.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping, TextIO

from . import sources
from .config import PREFIX, ConfigurationError, Settings, describe

CUSTOMERIO_KEY = "CUSTOMERIO_API_KEY"

# CloudFormation outputs and parameters of template.yaml -> the settings the functions get from them.
STACK_OUTPUTS = {
    "DeliveryQueueUrl": "DELIVERY_QUEUE_URL",
    "DeadLetterQueueUrl": "DEAD_LETTER_QUEUE_URL",
    "VideoSessionsTableName": "VIDEO_SESSIONS_TABLE",
    "ReplayTableName": "REPLAY_TABLE",
}
STACK_PARAMETERS = {
    "SecretsPrefix": "SECRETS_PREFIX",
    "SecretStore": "SECRETS_STORE",
    "EnabledSources": "SOURCES",
    "CustomerIoRegion": "CUSTOMERIO_REGION",
    "SourceSettings": "SOURCE_SETTINGS",
    "SesTopicArns": "SES_TOPIC_ARNS",
}
PARAMETER_OF_SETTING = {setting: key for key, setting in STACK_PARAMETERS.items()}
# Settings the template derives from a parameter rather than passing it through: how to set them.
SETTING_FIXES = {"SES_EVENTBRIDGE_ACCOUNTS": "deploy with the stack parameter SesEventBridge=Enabled (docs/sources/ses-eventbridge.md)"}
STORE_OF_PARAMETER = {"SecretsManager": "secretsmanager", "SSM": "ssm"}
FUNCTION_URL_OUTPUTS = {"email": "EmailIngestFunctionUrl", "video": "VideoIngestFunctionUrl", "mobile": "MobileIngestFunctionUrl"}

OK, WARN, MISSING, ERROR, INFO = "ok", "warn", "MISSING", "ERROR", "info"
FAILING = (MISSING, ERROR)


@dataclass
class Check:
    status: str
    subject: str
    detail: str
    fix: str = ""


@dataclass
class SecretLocation:
    """Where the functions look for a secret: an environment variable, or a named secret in a store."""

    setting: str  # e.g. SENDGRID_VERIFICATION_KEY
    store: str | None  # "env", "secretsmanager", "ssm", or None (nowhere configured)
    name: str = ""  # the secret's name or ARN in the store; the variable name for "env"

    def describe(self) -> str:
        if self.store == "env":
            return f"environment variable {self.name}"
        if self.store == "secretsmanager":
            return f"Secrets Manager secret {self.name}"
        if self.store == "ssm":
            return f"SSM parameter {self.name}"
        return f"secret {self.setting} (nowhere configured)"

    def create_command(self, region: str | None = None) -> str:
        where = f" --region {region}" if region else ""
        if self.store == "ssm":
            return f"aws ssm put-parameter{where} --type SecureString --name {self.name} --value '<value>'"
        if self.store == "secretsmanager":
            return f"aws secretsmanager create-secret{where} --name {self.name} --secret-string '<value>'"
        if self.store == "env":
            return f"export {self.name}='<value>'"
        return f"set CIOHOOKS_SECRETS_PREFIX (the stack does), or {PREFIX}{self.setting} for a local run"


def convention_name(prefix: str, setting: str) -> str:
    """The name a secret setting has under the secrets prefix (``config.Settings.secret``)."""
    return prefix + setting.lower().replace("_", "-")


def locate_secret(settings: Settings, setting: str) -> SecretLocation:
    """Where ``settings.secret(setting)`` looks, in the same order, without reading anything."""
    if settings.get(setting) is not None:
        return SecretLocation(setting, "env", PREFIX + setting)
    if (secret_id := settings.get(f"{setting}_SECRET")) is not None:
        return SecretLocation(setting, "secretsmanager", secret_id)
    if (parameter := settings.get(f"{setting}_PARAMETER")) is not None:
        return SecretLocation(setting, "ssm", parameter)
    if (prefix := settings.get("SECRETS_PREFIX")) is not None:
        store = (settings.get("SECRETS_STORE") or "secretsmanager").lower()
        return SecretLocation(setting, "ssm" if store == "ssm" else "secretsmanager", convention_name(prefix, setting))
    return SecretLocation(setting, None)


def secret_settings_of(source: type[sources.Source]) -> list[str]:
    """Every secret setting a source reads, as it declares them (``Source.secret_names``; the source
    refuses to read any other, so the list cannot drift)."""
    return list(source.secret_names)


def enabled_sources(settings: Settings) -> tuple[list[str], list[str]]:
    """(enabled full names, unknown names in CIOHOOKS_SOURCES), with the rule ``ingest.Ingest`` applies."""
    enabled = settings.get_list("SOURCES")
    every = sources.names()
    if enabled is None:
        return every, []
    chosen = [n for n in every if n in enabled or n.split("/", 1)[1] in enabled]
    known = set(every) | {n.split("/", 1)[1] for n in every}
    return chosen, [n for n in enabled if n not in known]


class AwsClients:
    """boto3 clients made on first use, all pointed at ``endpoint_url`` when one is given."""

    def __init__(self, region: str | None = None, endpoint_url: str | None = None, factory: Callable[..., Any] | None = None) -> None:
        self.region, self.endpoint_url = region, endpoint_url
        self._factory = factory
        self._made: dict[str, Any] = {}

    def __getattr__(self, service: str) -> Any:
        if service.startswith("_"):
            raise AttributeError(service)
        if service not in self._made:
            factory = self._factory
            if factory is None:
                import boto3
                from botocore.config import Config

                def factory(name: str, **kwargs: Any) -> Any:
                    return boto3.client(name, config=Config(connect_timeout=3, read_timeout=10, retries={"max_attempts": 2}), **kwargs)

            kwargs = {k: v for k, v in (("region_name", self.region), ("endpoint_url", self.endpoint_url)) if v}
            self._made[service] = factory(service, **kwargs)
        return self._made[service]


def settings_from_stack(cloudformation: Any, stack_name: str) -> tuple[dict[str, str], dict[str, str]]:
    """(CIOHOOKS_* settings, family -> Function URL) read from a deployed stack of template.yaml."""
    (stack,) = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    parameters = {p["ParameterKey"]: p.get("ParameterValue", "") for p in stack.get("Parameters", [])}
    env = {PREFIX + setting: outputs[key] for key, setting in STACK_OUTPUTS.items() if key in outputs}
    for key, setting in STACK_PARAMETERS.items():
        if key in parameters:
            value = parameters[key]
            if key == "SecretStore":
                value = STORE_OF_PARAMETER.get(value, value.lower())
            elif key == "CustomerIoRegion":
                value = value.lower()
            env[PREFIX + setting] = value
    if parameters.get("SesEventBridge") == "Enabled" and str(stack.get("StackId", "")).count(":") >= 5:
        env[PREFIX + "SES_EVENTBRIDGE_ACCOUNTS"] = stack["StackId"].split(":")[4]  # the template sets its own account
    urls = {family: outputs[key] for family, key in FUNCTION_URL_OUTPUTS.items() if key in outputs}
    return env, urls


def _retry_status(full_name: str) -> int:
    return sources.load(full_name).retry_status


def _error_code(error: Exception) -> str:
    response = getattr(error, "response", None) or {}
    return str(response.get("Error", {}).get("Code") or error.__class__.__name__)


class Doctor:
    def __init__(
        self,
        settings: Settings,
        aws: Any,
        *,
        http_post: Callable[..., Any] | None = None,
        http_get: Callable[..., Any] | None = None,
        probe_customerio: bool = True,
        function_urls: Mapping[str, str] | None = None,
        region: str | None = None,
    ) -> None:
        self.settings, self.aws = settings, aws
        self.probe_customerio = probe_customerio
        self.function_urls = dict(function_urls or {})
        self.region = region
        self._post, self._get = http_post, http_get

    # -- the checks ------------------------------------------------------------------------------

    def run(self) -> list[Check]:
        checks: list[Check] = []
        checks += self.check_queues()
        checks += self.check_customerio_key()
        checks += self.check_sources()
        checks += self.check_video_sessions()
        checks += self.check_replay_table()
        checks += self.check_function_urls()
        return checks

    def check_queues(self) -> list[Check]:
        checks = []
        for setting, label in (("DELIVERY_QUEUE_URL", "delivery queue"), ("DEAD_LETTER_QUEUE_URL", "dead-letter queue")):
            url = self.settings.get(setting)
            if url is None:
                checks.append(Check(MISSING, label, f"{PREFIX}{setting} is not set", "give --stack NAME, or export the queue URL (stack output)"))
                continue
            try:
                attributes = self.aws.sqs.get_queue_attributes(
                    QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
                )["Attributes"]
            except Exception as error:  # noqa: BLE001 (any failure means "not reachable"; say which)
                checks.append(Check(ERROR, label, f"{url} does not answer GetQueueAttributes ({_error_code(error)})", "check the URL, the region and your credentials"))
                continue
            waiting = int(attributes.get("ApproximateNumberOfMessages", 0))
            in_flight = int(attributes.get("ApproximateNumberOfMessagesNotVisible", 0))
            if setting == "DEAD_LETTER_QUEUE_URL" and waiting + in_flight:
                checks.append(Check(WARN, label, f"reachable; {waiting + in_flight} dead letter(s) waiting", "ciohooks dlq list, then fix and ciohooks dlq replay (docs/OPERATIONS.md)"))
            else:
                checks.append(Check(OK, label, f"reachable; {waiting} waiting, {in_flight} in flight"))
        return checks

    def check_customerio_key(self) -> list[Check]:
        subject = "Customer.io API key"
        location = locate_secret(self.settings, CUSTOMERIO_KEY)
        presence = self._presence(location)
        presence.subject = subject
        if presence.status not in (OK, WARN):
            return [presence]
        notes = [presence] if presence.status == WARN else []  # e.g. an SSM String, not SecureString
        if not self.probe_customerio:
            return [*notes, Check(WARN, subject, f"present ({location.describe()}); not verified (--no-probe)")]
        try:
            key = self._read(location)
        except Exception as error:  # noqa: BLE001
            return [*notes, Check(ERROR, subject, f"present ({location.describe()}) but not readable ({_error_code(error)})", "your credentials need GetSecretValue / GetParameter on it")]
        return [*notes, self._probe(key, location)]

    def _probe(self, key: str, location: SecretLocation) -> Check:
        """An empty batch in strict mode: it sends no data, and authentication is checked first.

        The Pipelines API has no read-only call to test a key, so an empty ``/v1/batch`` is the most
        harmless authenticated request. A 400 means only that the body was refused, possibly before
        the key was looked at: the key is then reported present but not verified.
        """
        from .customerio import REGIONS

        region = (self.settings.get("CUSTOMERIO_REGION") or "us").lower()
        base = (self.settings.get("CUSTOMERIO_BASE_URL") or REGIONS.get(region, REGIONS["us"])).rstrip("/")
        post = self._post or _requests_post
        subject = "Customer.io API key"
        where = location.describe()
        try:
            status = post(f"{base}/v1/batch", auth=(key, ""), json={"batch": []}, headers={"X-Strict-Mode": "1"}, timeout=10)
        except Exception as error:  # noqa: BLE001 (network errors name the host, never the key)
            return Check(ERROR, subject, f"present ({where}); {base} unreachable ({error.__class__.__name__})", "check the network, and status.customer.io")
        if 200 <= status < 300:
            return Check(OK, subject, f"present ({where}) and accepted by {base}")
        if status in (401, 403):
            other = "EU" if region == "us" else "US"
            return Check(ERROR, subject, f"present ({where}) but REFUSED by {base} ({status})",
                         f"store the Pipelines API key of the workspace's HTTP source; or CustomerIoRegion should be {other}")
        if status == 400:
            return Check(WARN, subject, f"present ({where}); not verified ({base} answered 400 to an empty batch)")
        return Check(ERROR, subject, f"present ({where}); {base} answered {status}", "retry later; check status.customer.io")

    def check_sources(self) -> list[Check]:
        checks = []
        enabled, unknown = enabled_sources(self.settings)
        listed = self.settings.get_list("SOURCES") is not None
        for name in unknown:
            checks.append(Check(MISSING, f"source {name}", "in EnabledSources / CIOHOOKS_SOURCES but not in this build", "ciohooks sources lists the names"))
        checks += self._local_only_checks()
        if not listed:
            checks.append(Check(WARN, "EnabledSources", "empty: every configured source answers, the others 404",
                                "list the sources you use, so a lost secret answers 503 (retried, alarmed) rather than 404"))
        for full_name in enabled:
            checks.append(self._source_check(full_name, listed))
        return checks

    def _local_only_checks(self) -> list[Check]:
        checks = [Check(WARN, f"SourceSettings {name}", "ignored: a local-only switch is never read from SourceSettings", "remove it from SourceSettings")
                  for name in self.settings.local_only_in_source_settings()]
        try:
            if self.settings.get_bool("ALLOW_UNSIGNED"):
                checks.append(Check(WARN, "ALLOW_UNSIGNED", "on: sources without a secret accept unsigned requests (local use only; ignored in Lambda)"))
        except ConfigurationError as error:
            checks.append(Check(ERROR, "ALLOW_UNSIGNED", describe(error)))
        return checks

    def _source_check(self, full_name: str, listed: bool) -> Check:
        """One line per source: does it build, and what does it still need (settings, a secret)?"""
        subject = f"source {full_name}"
        try:
            source = sources.load(full_name)
            source(self.settings)  # as ingest builds it: every plain setting is read and checked
        except ConfigurationError as error:
            return Check(ERROR, subject, f"configuration error: {describe(error)}; every request gets {_retry_status(full_name)}",
                         "fix the setting (SourceSettings, or the function's environment), then run doctor again")
        except Exception as error:  # noqa: BLE001 (a broken module must not hide the others)
            return Check(ERROR, subject, f"does not load ({error.__class__.__name__}: {error})")
        needs = [self._setting_need(name) for name in source.required_settings if self.settings.get(name) is None]
        if source.secret_names:
            secret = self._secret_check(source)
            if secret.status == MISSING:
                needs.append((secret.detail, secret.fix))
            elif not needs:
                return Check(secret.status, subject, secret.detail, secret.fix)
        elif not needs:
            return Check(OK, subject, "needs no secret")
        detail = "; ".join(what for what, _ in needs)
        if not listed:
            return Check(INFO, subject, f"not configured ({detail}): answers 404")
        return Check(MISSING, subject, f"{detail}; every request gets {source.retry_status}", needs[0][1])

    def _setting_need(self, setting: str) -> tuple[str, str]:
        parameter = PARAMETER_OF_SETTING.get(setting)
        fix = f"set the stack parameter {parameter} (docs/DEPLOY.md)" if parameter else SETTING_FIXES.get(setting, f"set {setting} in SourceSettings")
        return f"{PREFIX}{setting} is not set", fix

    def _secret_check(self, source: type[sources.Source]) -> Check:
        """One of the source's secrets present (ok/warn), an error checking them, or none (MISSING)."""
        results = [(location := locate_secret(self.settings, s), self._presence(location)) for s in source.secret_names]
        present = [check for _, check in results if check.status in (OK, WARN)]
        failed = [check for _, check in results if check.status == ERROR]
        if present:
            status = OK if any(c.status == OK for c in present) else WARN
            return Check(status, "", "secret " + "; ".join(c.detail for c in present), present[0].fix if status == WARN else "")
        if failed:
            return Check(ERROR, "", failed[0].detail, failed[0].fix)
        primary = results[0][0]
        either = f" (or {', '.join(loc.name or loc.setting for loc, _ in results[1:])})" if len(results) > 1 else ""
        return Check(MISSING, "", f"no secret: {primary.describe()}{either}", primary.create_command(self.region))

    def check_video_sessions(self) -> list[Check]:
        return self._check_table("VIDEO_SESSIONS_TABLE", "video sessions table", "old sessions are never removed")

    def check_replay_table(self) -> list[Check]:
        return self._check_table("REPLAY_TABLE", "replay table", "old nonces are never removed")

    def _check_table(self, setting: str, subject: str, without_ttl: str) -> list[Check]:
        table = self.settings.get(setting)
        if table is None:
            return []
        try:
            status = self.aws.dynamodb.describe_table(TableName=table)["Table"].get("TableStatus", "?")
            ttl = self.aws.dynamodb.describe_time_to_live(TableName=table)["TimeToLiveDescription"].get("TimeToLiveStatus", "?")
        except Exception as error:  # noqa: BLE001
            return [Check(ERROR, subject, f"{table} does not answer DescribeTable ({_error_code(error)})")]
        if status != "ACTIVE":
            return [Check(WARN, subject, f"{table} is {status}")]
        if ttl not in ("ENABLED", "ENABLING"):
            return [Check(WARN, subject, f"{table} is ACTIVE but its TTL is {ttl}: {without_ttl}")]
        return [Check(OK, subject, f"{table} is ACTIVE, TTL {ttl}")]

    def check_function_urls(self) -> list[Check]:
        checks = []
        get = self._get or _requests_get
        for family, url in sorted(self.function_urls.items()):
            subject = f"{family} Function URL"
            try:
                status = get(url, timeout=15)
            except Exception as error:  # noqa: BLE001
                checks.append(Check(ERROR, subject, f"{url} unreachable ({error.__class__.__name__})"))
                continue
            # The bare URL has no source route: the resolver itself answers 404 once the code starts.
            if status == 404:
                checks.append(Check(OK, subject, f"{url} answers (POST {url}<source>)"))
            else:
                checks.append(Check(ERROR, subject, f"{url} answered {status} (expected the resolver's 404)", "read the function's log: it may fail to start"))
        return checks

    # -- secrets ---------------------------------------------------------------------------------

    def _presence(self, location: SecretLocation) -> Check:
        subject = f"secret {location.setting}"
        if location.store is None:
            return Check(MISSING, subject, location.describe(), location.create_command(self.region))
        if location.store == "env":
            return Check(OK, subject, f"present ({location.describe()})")
        try:
            if location.store == "secretsmanager":
                described = self.aws.secretsmanager.describe_secret(SecretId=location.name)
                if described.get("DeletedDate"):
                    return Check(MISSING, subject, f"{location.describe()} is scheduled for deletion",
                                 f"aws secretsmanager restore-secret --secret-id {location.name}")
                stages = described.get("VersionIdsToStages") or {}
                if stages and not any("AWSCURRENT" in s for s in stages.values()):
                    return Check(MISSING, subject, f"{location.describe()} has no current value",
                                 f"aws secretsmanager put-secret-value --secret-id {location.name} --secret-string '<value>'")
                return Check(OK, subject, f"present ({location.describe()})")
            found = self.aws.ssm.describe_parameters(ParameterFilters=[{"Key": "Name", "Option": "Equals", "Values": [location.name]}]).get("Parameters", [])
        except Exception as error:  # noqa: BLE001
            code = _error_code(error)
            if code in ("ResourceNotFoundException", "ParameterNotFound"):
                return Check(MISSING, subject, f"{location.describe()} does not exist", location.create_command(self.region))
            return Check(ERROR, subject, f"{location.describe()} could not be checked ({code})", "your credentials need secretsmanager:DescribeSecret / ssm:DescribeParameters")
        if not found:
            return Check(MISSING, subject, f"{location.describe()} does not exist", location.create_command(self.region))
        if found[0].get("Type") != "SecureString":
            return Check(WARN, subject, f"present ({location.describe()}, but stored as {found[0].get('Type')}, not SecureString)",
                         f"aws ssm put-parameter --overwrite --type SecureString --name {location.name} --value '<value>'")
        return Check(OK, subject, f"present ({location.describe()})")

    def _read(self, location: SecretLocation) -> str:
        if location.store == "env":
            return self.settings.get(location.setting) or ""
        if location.store == "secretsmanager":
            return self.aws.secretsmanager.get_secret_value(SecretId=location.name)["SecretString"]
        return self.aws.ssm.get_parameter(Name=location.name, WithDecryption=True)["Parameter"]["Value"]


def _requests_post(url: str, **kwargs: Any) -> int:
    import requests

    return requests.post(url, **kwargs).status_code


def _requests_get(url: str, **kwargs: Any) -> int:
    import requests

    return requests.get(url, **kwargs).status_code


# ---- output ----------------------------------------------------------------------------------------


def report(checks: Iterable[Check], out: TextIO, as_json: bool = False) -> int:
    """Print the checks; 1 when one of them is missing or failed, else 0."""
    checks = list(checks)
    if as_json:
        for check in checks:
            out.write(json.dumps(check.__dict__) + "\n")
    else:
        width = max((len(c.subject) for c in checks), default=0)
        for check in checks:
            out.write(f"{'[' + check.status + ']':<10} {check.subject:<{width}}  {check.detail}\n")
            if check.fix and check.status != OK:
                out.write(f"{'':<10} {'':<{width}}  fix: {check.fix}\n")
        failing = [c for c in checks if c.status in FAILING]
        warnings = [c for c in checks if c.status == WARN]
        out.write(f"\n{len(failing)} missing or failing, {len(warnings)} warning(s), {len(checks)} checks\n")
    return 1 if any(c.status in FAILING for c in checks) else 0


@dataclass
class DoctorOptions:
    stack: str | None = None
    region: str | None = None
    endpoint_url: str | None = None
    probe: bool = True
    as_json: bool = False
    environ: Mapping[str, str] | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def run_doctor(options: DoctorOptions, out: TextIO | None = None, aws: Any = None) -> int:
    """What ``ciohooks doctor`` does: settings from the environment (and the stack), checks, report."""
    import os

    out = out or sys.stdout  # looked up now, not at import: callers (and tests) may redirect it

    aws = aws or AwsClients(options.region, options.endpoint_url)
    env = dict(os.environ if options.environ is None else options.environ)
    urls: dict[str, str] = {}
    if options.stack:
        try:
            stack_env, urls = settings_from_stack(aws.cloudformation, options.stack)
        except Exception as error:  # noqa: BLE001
            return report([Check(ERROR, f"stack {options.stack}", f"cannot be read ({_error_code(error)})", "check the stack name, --region and your credentials")], out, options.as_json)
        env.update(stack_env)
    doctor = Doctor(Settings(env), aws, probe_customerio=options.probe, function_urls=urls, region=options.region, **options.extra)
    return report(doctor.run(), out, options.as_json)
