"""The data-hygiene guard itself must be able to fail (it runs over the whole suite: tests/support/hygiene.py)."""

from tests.support.hygiene import find_leaks


def test_finds_secrets_and_personal_data():
    lines = [
        ("log ciohooks.ingest:WARNING", "refused request: signature does not match"),
        ("log ciohooks.deliver:ERROR", "Customer.io answered 400 for jane.doe@example.co.uk"),
        ("DLQ reason (translate)", "token ExponentPushToken[xxxxxxxxxxxxxxxxxxxxxx] invalid"),
        ("log root:INFO", "device 740f4707bebcf74f9b7c25d48e3358945f6aa01da5ddb387462c7eaf61bb78ad"),
        ("log ciohooks.config:INFO", "using key s3cr3t-signing-key"),
        ("log ciohooks.x:INFO", "-----BEGIN PRIVATE KEY----- ..."),
    ]
    found = find_leaks(lines, {"s3cr3t-signing-key"})
    assert len(found) == 5
    assert all("jane.doe" not in f and "s3cr3t" not in f for f in found)  # the report redacts too


def test_clean_lines_pass():
    assert find_leaks([("log ciohooks.ingest:INFO", "webhook handled: email/sendgrid queued 7 events, messageId 0f21b97e-532c-5e37-b40d-97ef34e91ed9")], {"s3cr3t-signing-key"}) == []
