"""ciohooks.samples: the local-only keys file reads the way a shell sources it."""

from __future__ import annotations

from pathlib import Path

from ciohooks.samples import local_keys

KEYS = Path(__file__).parents[2] / "events" / "keys"


def test_local_env_values_are_read_as_a_shell_reads_them(tmp_path: Path) -> None:
    assert local_keys(KEYS)["CIOHOOKS_AUTH0_AUTHORIZATION"] == "Bearer local-only-auth0-log-stream-token-3c8e"
    (tmp_path / "local.env").write_text("# comment\n\nexport CIOHOOKS_A='one two'\nCIOHOOKS_B=\"x=y\"\nCIOHOOKS_C=plain\nCIOHOOKS_D=\n")
    assert local_keys(tmp_path) == {"CIOHOOKS_A": "one two", "CIOHOOKS_B": "x=y", "CIOHOOKS_C": "plain", "CIOHOOKS_D": ""}


def test_a_custom_sources_samples_are_beside_its_definition(tmp_path) -> None:
    from ciohooks.samples import sample_folder
    from ciohooks.sources import load
    from ciohooks.sources.custom import build
    from ciohooks.sources.custom.definition import read

    definition = Path(__file__).resolve().parents[2] / "examples" / "custom-sources" / "singular.yaml"
    custom = build(read(definition)[0], str(definition))
    assert sample_folder(custom, tmp_path) == definition.parent / "singular.samples"
    assert sample_folder(load("email/sendgrid"), tmp_path) == tmp_path / "email" / "sendgrid"
