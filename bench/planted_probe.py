"""Planted-PII probe: Faker values of each kind, planted in short chat sentences, per locale;
the share masked whole by the run's detector.

    .venv/bin/python bench/planted_probe.py                       # default locales
    .venv/bin/python bench/planted_probe.py --locales fr_FR it_IT --n 100 --misses 5

It asks what a privacy reviewer asks of a chat export with planted PII: is every character
of every planted value masked (spaces, and the commas and full stops around parts, aside)?
Values come from Faker's locale providers (names, phones, emails, cards, IBANs, IPs, postal
and street addresses, dates of birth; SSNs for en_US), each put in one of a few sentences
written for it ("ship to {}", "call me at {}"). The sentences are ours, so this is a
regression yardstick for formats (international addresses, phone layouts), not a recall
estimate: `make eval-external` measures text this project did not write. Values are never
printed unless --misses asks for examples (synthetic Faker data, no real person's).
Writes bench/planted_probe.json.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
DEFAULT_LOCALES = (
    "en_US en_GB en_IE en_CA en_AU de_DE de_AT de_CH fr_FR it_IT es_ES pt_PT nl_NL pl_PL "
    "sv_SE da_DK".split()
)
SENTENCES: dict[str, tuple[str, ...]] = {
    "name": ("HR form needs this for {}", "{} is out today", "ping {} about the deploy",
             "meeting with {} at 3", "can {} review my PR?", "forwarding to {}"),
    "first_name": ("thanks {}!", "{} can you check", "ask {} for the logs", "lunch with {}?"),
    "phone": ("call me at {}", "my cell is {}", "reach me on {} after 5", "phone: {}"),
    "email": ("send it to {}", "my email is {}", "cc {} on that"),
    "ssn": ("my ssn is {}", "SSN: {} for payroll", "HR needs SSN {}"),
    "card": ("card {} exp 12/27", "use card number {}", "pay with {}"),
    "iban": ("wire it to {}", "IBAN {} please", "my account: {}"),
    "ip": ("server {} is down", "login from {}", "ssh to {}"),
    "address": ("ship to {}", "I live at {}", "my address is {}"),
    "street": ("meet at {} tomorrow", "I moved to {}", "deliver to {} pls"),
    "date_of_birth": ("born on {}", "DOB: {}", "my birthday is {}"),
}  # fmt: skip
# Characters that may stay visible around or between a value's parts.
_ALLOWED_VISIBLE = " \t\n,."


def _values(locale: str, rng: random.Random) -> dict[str, Callable[[], str]]:
    from faker import Faker

    fake = Faker(locale)
    fake.seed_instance(rng.randrange(2**32))
    kinds: dict[str, Callable[[], str]] = {
        "name": fake.name,
        "first_name": fake.first_name,
        "phone": fake.phone_number,
        "email": fake.email,
        "card": fake.credit_card_number,
        "iban": fake.iban,
        "ip": fake.ipv4,
        "address": lambda: fake.address().replace("\n", ", "),
        "street": fake.street_address,
        "date_of_birth": lambda: fake.date_of_birth().strftime(
            rng.choice(["%m/%d/%Y", "%Y-%m-%d", "%B %d, %Y"])
        ),
    }
    if locale == "en_US":
        kinds["ssn"] = fake.ssn
    return kinds


def probe(redactor: Any, locale: str, n: int, seed: int) -> dict[str, Any]:
    """Per kind: planted values, those masked whole, and (value, visible chars) misses."""
    rng = random.Random(f"{seed}-{locale}")
    planted: list[tuple[str, str, str]] = []
    for kind, make in _values(locale, rng).items():
        for _ in range(n):
            value = make()
            planted.append((kind, rng.choice(SENTENCES[kind]).format(value), value))
    redacted = redactor.redact([text for _, text, _ in planted])
    total: Counter[str] = Counter()
    masked: Counter[str] = Counter()
    misses: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for (kind, text, value), result in zip(planted, redacted, strict=True):
        total[kind] += 1
        start = text.index(value)
        covered = {i for span in result.spans for i in range(span.start, span.end)}
        visible = "".join(
            text[i]
            for i in range(start, start + len(value))
            if i not in covered and text[i] not in _ALLOWED_VISIBLE
        )
        if visible:
            misses[kind].append((value, visible))
        else:
            masked[kind] += 1
    return {"total": dict(total), "masked": dict(masked), "misses": dict(misses)}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", type=Path, default=REPO / "configs" / "sample.yaml")
    parser.add_argument("--locales", nargs="+", default=list(DEFAULT_LOCALES))
    parser.add_argument("--n", type=int, default=60, help="values per kind and locale")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--misses", type=int, default=0, help="print N examples per cell")
    parser.add_argument("--json", type=Path, default=REPO / "bench" / "planted_probe.json")
    args = parser.parse_args(argv)

    sys.path.insert(0, str(REPO))
    from redactors.config import load_config
    from redactors.engine import TextRedactor

    config = load_config(args.config)
    # A fixed probe key: surrogates do not matter here, only which characters are masked.
    redactor = TextRedactor.build(config.detection, config.masking, b"planted-probe-key" * 2)
    kinds = list(SENTENCES)
    results = {loc: probe(redactor, loc, args.n, args.seed) for loc in args.locales}
    print(f"{'locale':8} " + " ".join(f"{k[:9]:>9}" for k in kinds))
    for locale, result in results.items():
        cells = [
            f"{result['masked'].get(k, 0)}/{result['total'][k]}" if k in result["total"] else "–"
            for k in kinds
        ]
        print(f"{locale:8} " + " ".join(f"{c:>9}" for c in cells))
        for kind, examples in result["misses"].items():
            for value, visible in examples[: args.misses]:
                print(f"  {kind}: {value!r} left {visible!r}")
    summary = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "config": str(args.config.relative_to(REPO)) if args.config.is_relative_to(REPO) else
        str(args.config),
        "n_per_kind": args.n,
        "seed": args.seed,
        "results": {
            loc: {"total": r["total"], "masked": r["masked"]} for loc, r in results.items()
        },
    }
    args.json.write_text(json.dumps(summary, indent=1) + "\n")
    print(f"values masked whole / planted, per locale and kind; wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
