"""ciohooks.samples: the local-only keys file reads the way a shell sources it."""

from __future__ import annotations

from pathlib import Path

from ciohooks.samples import local_keys

KEYS = Path(__file__).parents[2] / "events" / "keys"


def test_local_env_values_are_read_as_a_shell_reads_them(tmp_path: Path) -> None:
    assert local_keys(KEYS)["CIOHOOKS_AUTH0_AUTHORIZATION"] == "Bearer local-only-auth0-log-stream-token-3c8e"
    (tmp_path / "local.env").write_text("# comment\n\nexport CIOHOOKS_A='one two'\nCIOHOOKS_B=\"x=y\"\nCIOHOOKS_C=plain\nCIOHOOKS_D=\n")
    assert local_keys(tmp_path) == {"CIOHOOKS_A": "one two", "CIOHOOKS_B": "x=y", "CIOHOOKS_C": "plain", "CIOHOOKS_D": ""}
