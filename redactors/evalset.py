"""Deterministic labelled chat messages and posts for `redact eval` (and run canaries).

Templates + Faker, several locales' phone and address formats, lower-case and first-only
names, names that are also common words, emails and URLs inside punctuation, typos in the
surrounding words, and numbers that look like PII but are not (order ids, timestamps,
version strings, prices), which stay unlabelled. The dev and test files come from different
seeds; tuning looks only at dev.
"""

from __future__ import annotations

import json
import random
import re
import string
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from faker import Faker

DEV_SEED, TEST_SEED = 1_500, 2_600

# {kind} placeholders; kinds map to generators below.
TEMPLATES = (
    "can you ping {person} about the invoice?",
    "{person_lower} said its fine, ship it",
    "thx {first}!",
    "my email is {email}, send it there",
    "contact: ({email})",
    "mail {email}.",
    "call me at {phone}",
    "{person}'s number is {phone}",
    "uk office: {phone_uk}",
    "berlin line {phone_de}",
    "paris: {phone_fr} (ask for {first})",
    "card on file: {card} exp 04/27",
    "ssn {ssn} for the background check",
    "my social is {ssn}",
    "server {ip} keeps dropping",
    "blocked {ipv6} at the firewall",
    "please wire it to {iban}",
    "IBAN: {iban}",
    "ship it to {address}",
    "I live at {address}, come by",
    "thanks {mention}!",
    "{slack} can you review? cc {mention}",
    "new profile: {url}",
    "see my work ({url})",
    "born on {dob}, so yes I'm old",
    "DOB: {dob}",
    "prod key {aws_key} leaked in the log",
    "token {github_token} - rotate pls",
    "password: {password}",
    "Hi {person}, your login {email} was used from {ip}",
    "reach {person} at {email} or {phone}",
    "{word_name} will join the call",
    "order #{order} shipped, total ${price}",
    "bumped to v{version} at {timestamp}",
    "ticket {ticket} is a dup",
    "build {build} is out, {count} tests passed",
    "ok",
    "thanks!",
    "lgtm",
    "standup in 5",
    "the deploy went fine",
    "Had a great week at the conference. Shout out to {person} for organising it all!",
    "Questions? Email {email} or call {phone}. Office: {address}.",
)
LABELS = {
    "person": "PERSON",
    "person_lower": "PERSON",
    "first": "PERSON",
    "word_name": "PERSON",
    "email": "EMAIL_ADDRESS",
    "phone": "PHONE_NUMBER",
    "phone_uk": "PHONE_NUMBER",
    "phone_de": "PHONE_NUMBER",
    "phone_fr": "PHONE_NUMBER",
    "card": "CREDIT_CARD",
    "ssn": "US_SSN",
    "ip": "IP_ADDRESS",
    "ipv6": "IP_ADDRESS",
    "iban": "IBAN_CODE",
    "address": "STREET_ADDRESS",
    "mention": "USER_MENTION",
    "slack": "USER_MENTION",
    "url": "URL",
    "dob": "DATE_OF_BIRTH",
    "aws_key": "SECRET",
    "github_token": "SECRET",
    "password": "SECRET",
}
# Names that are also common words: a model has to read context.
WORD_NAMES = ("Hope Bishop", "Will Baker", "Summer Rose", "Grant Hill", "Faith Lane", "Mark Price")
TYPOS = {"the": "teh", "about": "abotu", "please": "pls", "thanks": "thnks", "review": "reveiw"}


@dataclass
class _Makers:
    rng: random.Random
    fakes: dict[str, Faker]

    def make(self, kind: str) -> str:
        rng, en = self.rng, self.fakes["en_US"]
        makers: dict[str, Callable[[], str]] = {
            "person": lambda: f"{en.first_name()} {en.last_name()}",
            "person_lower": lambda: f"{en.first_name()} {en.last_name()}".lower(),
            "first": en.first_name,
            "word_name": lambda: rng.choice(WORD_NAMES),
            "email": lambda: (
                en.email()
                if rng.random() < 0.5
                else f"{en.first_name().lower()}.{en.last_name().lower()}@{en.free_email_domain()}"
            ),
            "phone": lambda: rng.choice(("({a}) {e}-{l}", "{a}-{e}-{l}", "+1 {a} {e} {l}")).format(
                a=rng.choice(("212", "415", "617", "312", "206")),
                e=f"{rng.randint(2, 9)}{rng.randint(10, 99)}",
                l=f"{rng.randint(0, 9999):04d}",
            ),
            "phone_uk": lambda: f"+44 20 7{rng.randint(100, 999)} {rng.randint(1000, 9999)}",
            "phone_de": lambda: f"+49 30 {rng.randint(1000000, 9999999)}",
            "phone_fr": lambda: "+33 1 " + " ".join(f"{rng.randint(10, 99)}" for _ in range(4)),
            "card": lambda: en.credit_card_number(card_type=rng.choice(("visa16", "mastercard"))),
            "ssn": en.ssn,
            "ip": en.ipv4_public,
            "ipv6": en.ipv6,
            "iban": lambda: rng.choice(list(self.fakes.values())).iban(),
            "address": lambda: (
                en.street_address()
                + (f", {en.city()}, {en.state_abbr()} {en.zipcode()}" if rng.random() < 0.5 else "")
            ),
            "mention": lambda: f"@{en.user_name()}",
            "slack": lambda: (
                "<@U" + "".join(rng.choices(string.ascii_uppercase + string.digits, k=8)) + ">"
            ),
            "url": lambda: rng.choice(
                (
                    "https://twitter.com/{h}",
                    "https://github.com/{h}",
                    "https://www.linkedin.com/in/{h}",
                )
            ).format(h=en.user_name()),
            "dob": lambda: en.date_of_birth().strftime(rng.choice(("%m/%d/%Y", "%B %d, %Y"))),
            "aws_key": lambda: (
                "AKIA" + "".join(rng.choices(string.ascii_uppercase + "234567", k=16))
            ),
            "github_token": lambda: (
                "ghp_" + "".join(rng.choices(string.ascii_letters + string.digits, k=36))
            ),
            "password": lambda: en.password(length=12),
            # look-alikes, never labelled
            "order": lambda: str(rng.randint(10000, 99999)),
            "price": lambda: f"{rng.randint(1, 999)}.{rng.randint(0, 99):02d}",
            "version": lambda: f"{rng.randint(0, 9)}.{rng.randint(0, 20)}.{rng.randint(0, 9)}",
            "timestamp": lambda: (
                f"2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d} "
                f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}"
            ),
            "ticket": lambda: f"JIRA-{rng.randint(100, 9999)}",
            "build": lambda: str(rng.randint(10**7, 10**8 - 1)),
            "count": lambda: str(rng.randint(10, 9999)),
        }
        return makers[kind]()


_PLACEHOLDER = re.compile(r"\{(\w+)\}")


def _typo(text: str, rng: random.Random) -> str:
    return " ".join(TYPOS.get(w, w) if rng.random() < 0.3 else w for w in text.split(" "))


def fill(template: str, makers: _Makers) -> dict[str, object]:
    """One labelled record from a template: text plus spans of every labelled value."""
    text, spans, position = "", [], 0
    for match in _PLACEHOLDER.finditer(template):
        text += _typo(template[position : match.start()], makers.rng)
        kind = match.group(1)
        value = makers.make(kind)
        if kind in LABELS:
            spans.append({"start": len(text), "end": len(text) + len(value), "label": LABELS[kind]})
        text += value
        position = match.end()
    text += _typo(template[position:], makers.rng)
    return {"text": text, "spans": spans}


def generate(seed: int, n: int) -> list[dict[str, object]]:
    rng = random.Random(seed)
    fakes = {locale: Faker(locale) for locale in ("en_US", "de_DE", "fr_FR", "en_GB", "nl_NL")}
    for offset, fake in enumerate(fakes.values()):
        fake.seed_instance(seed + offset)
    makers = _Makers(rng, fakes)
    return [fill(rng.choice(TEMPLATES), makers) for _ in range(n)]


def write_jsonl(path: Path, records: list[dict[str, object]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
