"""The definitions shipped with the product (shared/ciohooks/sources/definitions/): the JSON the
catalogue reads (and the layer ships: no YAML parser there) is the YAML a person edits, checked
by ``make definitions``. One fact, two spellings, kept equal here."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from ciohooks import sources
from ciohooks.sources.custom import SHIPPED_DIR, shipped_files

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
