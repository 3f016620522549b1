"""The definitions shipped with the product (shared/ciohooks/sources/definitions/): the JSON the
catalogue reads (and the layer ships: no YAML parser there) is the YAML a person edits, checked
by ``make definitions``. One fact, two spellings, kept equal here."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from ciohooks import sources
from ciohooks.config import Settings
from ciohooks.sources.custom import SHIPPED_DIR, load_all, shipped_files

YAML_FILES = sorted(SHIPPED_DIR.glob("*.yaml"))


def test_there_are_shipped_definitions_and_each_has_its_json():
    assert [p.name for p in YAML_FILES] == ["mailersend.yaml", "mailtrap.yaml"]
    assert sorted(p.name for p in SHIPPED_DIR.glob("*.json")) == ["mailersend.json", "mailtrap.json"]


@pytest.mark.parametrize("path", YAML_FILES, ids=lambda p: p.stem)
def test_the_json_is_the_yaml(path: Path):
    assert json.loads(path.with_suffix(".json").read_text()) == yaml.safe_load(path.read_text()), "run: make definitions"


def test_the_catalogue_reads_the_json_and_serves_them_like_modules():
    assert [p.suffix for p in shipped_files()] == [".json", ".json"]
    for name in ("email/mailersend", "email/mailtrap"):
        source = sources.load(name)
        assert source.origin.endswith(".json") and not source.installed_by_definition


def test_listing_them_builds_nothing_and_a_users_definition_of_the_same_name_replaces_one(tmp_path):
    document = yaml.safe_load((SHIPPED_DIR / "mailtrap.yaml").read_text())
    document["title"] = "Mailtrap, our way"
    (tmp_path / "mailtrap.json").write_text(json.dumps(document))
    (tmp_path / "other.json").write_text(json.dumps({**document, "name": "mailtrap", "family": "mobile"}))  # its route is taken
    found = load_all(Settings({"CIOHOOKS_CUSTOM_SOURCES_DIR": str(tmp_path)}), set(), {"email/mailtrap", "email/mailersend"})
    assert list(found) == ["email/mailtrap"] and found["email/mailtrap"].title == "Mailtrap, our way"
    assert found["email/mailtrap"].installed_by_definition  # the deployment's own now
