from pathlib import Path

import pytest
import yaml

from redactors.config import EEA_COUNTRIES, ISO_COUNTRIES, load_config
from redactors.errors import ConfigError

from .conftest import SAMPLE_CONFIG


def write(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def sample_dict() -> dict:
    return yaml.safe_load(SAMPLE_CONFIG.read_text())


def test_sample_config_loads_with_paths_relative_to_the_file(sample_config):
    assert [s.name for s in sample_config.sources] == ["messages", "posts"]
    registry = sample_config.resolve(sample_config.consent.registry)
    assert registry.resolve() == (SAMPLE_CONFIG.parent.parent / "data/sample/consent.parquet")
    assert sample_config.consent.policy == "opt_in"
    assert {"DE", "FR", "NO", "IS", "LI", "CH"} <= sample_config.consent.excluded_countries()
    assert "US" not in sample_config.consent.excluded_countries()


def test_unknown_key_is_named(tmp_path):
    data = sample_dict()
    data["detection"]["entitiez"] = ["PERSON"]
    with pytest.raises(ConfigError) as error:
        load_config(write(tmp_path, data))
    assert "detection.entitiez" in str(error.value)
    assert "unknown key" in str(error.value)


def test_bad_values_are_named(tmp_path):
    data = sample_dict()
    data["consent"]["policy"] = "maybe"
    data["consent"]["excluded_regions"] = ["europe"]
    data["masking"]["operators"]["PERSON"] = {"type": "scramble"}
    with pytest.raises(ConfigError) as error:
        load_config(write(tmp_path, data))
    message = str(error.value)
    assert "consent.policy" in message
    assert "consent.excluded_regions" in message
    assert "masking.operators.PERSON" in message


@pytest.mark.parametrize("value", [0, "fast"])
def test_unit_rows_is_a_positive_number_or_auto(tmp_path, value):
    data = sample_dict()
    data["runner"].pop("unit_rows")
    assert load_config(write(tmp_path, data)).runner.unit_rows == "auto"  # the default
    data["runner"]["unit_rows"] = value
    with pytest.raises(ConfigError) as error:
        load_config(write(tmp_path, data))
    assert "runner.unit_rows" in str(error.value) and "auto" in str(error.value)


def test_operator_for_an_entity_not_detected_is_refused(tmp_path):
    data = sample_dict()
    data["masking"]["operators"]["US_PASSPORT"] = {"type": "tag"}
    with pytest.raises(ConfigError, match="US_PASSPORT"):
        load_config(write(tmp_path, data))


def test_missing_file_and_bad_yaml(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("sources: [unclosed")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)


def test_config_hash_ignores_output_location_but_not_masking(tmp_path):
    data = sample_dict()
    base = load_config(write(tmp_path, data)).config_hash()
    data["output"]["directory"] = "/elsewhere"
    assert load_config(write(tmp_path, data)).config_hash() == base
    data["masking"]["operators"]["PERSON"] = {"type": "tag"}
    assert load_config(write(tmp_path, data)).config_hash() != base


def test_region_groups_and_codes(tmp_path):
    assert len(EEA_COUNTRIES) == 30
    assert len(ISO_COUNTRIES) == 250 and EEA_COUNTRIES <= ISO_COUNTRIES
    data = sample_dict()
    data["consent"]["excluded_regions"] = ["UK"]
    with pytest.raises(ConfigError, match="not ISO 3166: use 'GB'"):
        load_config(write(tmp_path, data))
    data["consent"]["excluded_regions"] = ["ZZ"]
    with pytest.raises(ConfigError, match="neither an ISO"):
        load_config(write(tmp_path, data))


def test_compression_level_must_fit_the_codec(tmp_path):
    data = sample_dict()
    data["output"]["compression"] = "snappy"
    assert load_config(write(tmp_path, data)).output.parquet_compression() == ("snappy", None)
    data["output"]["compression_level"] = 3
    with pytest.raises(ConfigError, match="compression_level does not apply"):
        load_config(write(tmp_path, data))
