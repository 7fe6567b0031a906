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


def test_a_typo_in_an_entity_name_is_named_with_a_did_you_mean_before_cross_checks(tmp_path):
    data = sample_dict()
    data["detection"]["entities"] = ["PERSON", "EMAIL_ADRESS"]
    data["masking"]["operators"] = {"EMAIL_ADDRESS": {"type": "tag"}}
    with pytest.raises(ConfigError) as error:
        load_config(write(tmp_path, data))
    message = str(error.value)
    assert "detection.entities: unknown entity name(s): 'EMAIL_ADRESS'" in message
    assert "did you mean 'EMAIL_ADDRESS'?" in message
    assert "not in detection.entities" not in message  # the misleading cross-check


@pytest.mark.parametrize(
    ("section", "key", "typo", "meant"),
    [
        ("masking", "operators", "PHONE_NUMBR", "PHONE_NUMBER"),
        ("detection", "entity_thresholds", "PERSN", "PERSON"),
    ],
)
def test_typos_in_other_entity_keys_get_a_did_you_mean(tmp_path, section, key, typo, meant):
    data = sample_dict()
    data[section][key] = {typo: {"type": "tag"} if section == "masking" else 0.5}
    with pytest.raises(ConfigError, match=rf"{section}.{key}: unknown .*{typo}.*{meant}"):
        load_config(write(tmp_path, data))


def test_a_deny_list_may_define_its_own_entity(tmp_path):
    data = sample_dict()
    data["detection"]["entities"].append("PROJECT_CODE")
    data["detection"]["deny_list"] = {"PROJECT_CODE": ["Bluebird"]}
    data["masking"]["operators"]["PROJECT_CODE"] = {"type": "tag"}
    assert "PROJECT_CODE" in load_config(write(tmp_path, data)).detection.entities


def test_known_entity_names_cover_every_recognizer_presidio_and_this_project_load():
    from redactors.config import KNOWN_ENTITIES, DetectionConfig
    from redactors.detector import supported_entities

    config = DetectionConfig(entities=["PERSON"])
    assert supported_entities(config) <= KNOWN_ENTITIES


def test_masking_style_sets_a_default_per_entity(tmp_path):
    data = sample_dict()
    data["masking"] = {"style": "surrogate"}
    masking = load_config(write(tmp_path, data)).masking
    assert masking.operator_for("CREDIT_CARD").type == "pseudonym"
    assert masking.operator_for("IP_ADDRESS").type == "pseudonym"
    assert masking.operator_for("STREET_ADDRESS").type == "tag"  # no safe surrogate
    data["masking"] = {"style": "tag", "operators": {"PERSON": {"type": "pseudonym"}}}
    masking = load_config(write(tmp_path, data)).masking
    assert masking.operator_for("CREDIT_CARD").type == "tag"
    assert masking.operator_for("PERSON").type == "pseudonym"  # an override wins
    data["masking"] = {"style": "surrogate", "default_operator": {"type": "redact"}}
    assert load_config(write(tmp_path, data)).masking.operator_for("PERSON").type == "redact"
    data["masking"] = {"style": "fancy"}
    with pytest.raises(ConfigError, match=r"masking\.style"):
        load_config(write(tmp_path, data))
