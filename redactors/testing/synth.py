"""Deterministic synthetic exports (chat messages, social posts, consent registry).

Every value is made up (Faker + fixed templates), seeded, so the same seed gives the same
files on every machine with the pinned Faker release. Alongside the frames, ``truth`` lists
each PII value planted in each record, which tests use to prove it was masked.
"""

from __future__ import annotations

import random
import string
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

import polars as pl
from faker import Faker

from redactors.testing.synth_chat import chat_message, pii_dense_message

SAMPLE_SEED = 20261126
REGION_WEIGHTS = {
    "US": 40,
    "GB": 8,
    "CA": 6,
    "IN": 6,
    "BR": 5,
    "AU": 4,
    "JP": 3,
    "MX": 3,
    "ZA": 2,
    "DE": 5,
    "FR": 4,
    "NL": 2,
    "IE": 2,
    "ES": 2,
    "PL": 1,
    "SE": 1,  # EU
    "NO": 1,
    "IS": 1,
    "LI": 1,  # EEA, not EU
    "CH": 2,
}
AREA_CODES = ("212", "312", "415", "617", "646", "206", "303", "512", "404", "305", "702", "919")

PLAIN_MESSAGES = (
    "ok",
    "ok",
    "thanks!",
    "thanks!",
    "lgtm",
    "+1",
    "on it",
    "sounds good",
    "done",
    "ty",
    "standup in 5",
    "deploying now",
    "can someone review my PR?",
    "brb",
    "lunch?",
    "the build is green again",
    "who broke main lol",
    "merged",
    "back in 10",
    "order #48213 shipped yesterday",
    "bumped to v2.3.1",
    "it's $12.99 per seat",
    "build 20261126 is out",
    "meeting moved to 3pm",
    "ticket 4471 is a dup of 4470",
    "can we push the release to Friday?",
    "the dashboard is slow again",
    "works on my machine",
    "anyone know why CI takes 40 min now?",
    "good morning team",
    "happy friday!",
    "see the doc in the wiki",
    "I'll take that one",
    "nice work everyone",
    "the SSN field validation is broken on staging",
    "retro notes are up",
)

MESSAGE_TEMPLATES = (
    "can you ping {person} about the invoice?",
    "my email is {email}, send it there",
    "call me at {phone} after 5",
    "{person}'s number is {phone}",
    "card on file: {card} exp 04/27",
    "ssn {ssn} for the background check form",
    "server {ip} keeps dropping connections",
    "please wire it to {iban} by friday",
    "ship it to {address} please",
    "thanks {mention}!",
    "{mention} can you review this? also cc {mention}",
    "new profile: {url}",
    "Hi {person}, your login {email} was used from {ip}",
    "i moved to {address}, my new phone is {phone}",
    "talked to {person} and {person} yesterday, they agreed",
    "reach {person} at {email} or {phone}",
    "({email}) is the right contact",
    "my ssn is {ssn} and card {card}",
    "{mention} pls send the IBAN {iban} to accounting",
    "follow me {url} !",
    "{member} said the deploy is fine",
    "ask {member} about the budget, {member} knows too",
)

POST_SENTENCES = (
    "Had a great week at the conference.",
    "Our team shipped the new onboarding flow today.",
    "Thoughts on remote work after two years?",
    "The quarterly numbers look better than expected.",
    "Reminder: the office is closed on Monday.",
    "Version 3.2.0 fixes the login timeout.",
    "Tickets cost $45 and sell out fast.",
)
POST_PII_SENTENCES = (
    "Shout out to {person} for organising everything.",
    "Questions? Email {email} or call {phone}.",
    "Find me at {url}.",
    "Congrats {mention} on the promotion!",
    "Send donations to {iban}.",
    "The meetup is at {address}.",
    "{person} and {person} led the workshop.",
    "My old number {phone} no longer works.",
    "Great talk by {member} today.",
)
POST_TITLES = (
    "Weekly update",
    "Big news",
    "Event recap",
    "Hiring!",
    "A quick question",
    "Release notes",
    "Thank you",
)


@dataclass(frozen=True)
class User:
    user_id: str
    handle: str
    first: str
    last: str
    region: str | None


@dataclass
class SampleData:
    messages: pl.DataFrame
    posts: pl.DataFrame
    consent: pl.DataFrame
    users: list[User]
    # (source, record_id, kind, value) for every PII value planted in a record
    truth: list[tuple[str, str, str, str]] = field(default_factory=list)
    # Org registry (org_id, status, region, updated_at, purpose) of the exports' workspaces
    orgs: pl.DataFrame | None = None
    # Tombstones (source, record_id, deleted_at): records deleted after the export
    deletions: pl.DataFrame | None = None


MAIN_WORKSPACE = "T04MAIN0001"
SECOND_WORKSPACE = "T07SECOND02"  # its admin opted the whole workspace out
SAMPLE_PURPOSE = "generative_model_training"


def _with_workspaces(data: SampleData, seed: int) -> SampleData:
    """Give every record a workspace (one per user: most in the main workspace, about one in
    ten in a second one that opted out), the org registry and a small tombstone file. Its
    own random stream, so the other columns are what they were before workspaces existed."""
    rng = random.Random(seed + 23)
    second = {user.user_id for user in data.users if rng.random() < 0.1}
    epoch = datetime(2026, 1, 1, tzinfo=UTC)

    def workspace(frame: pl.DataFrame, user_column: str) -> pl.DataFrame:
        return frame.with_columns(
            pl.when(pl.col(user_column).is_in(sorted(second)))
            .then(pl.lit(SECOND_WORKSPACE))
            .otherwise(pl.lit(MAIN_WORKSPACE))
            .alias("workspace_id")
        )

    timestamp = pl.Datetime("us", "UTC")
    orgs = pl.DataFrame(
        [
            (MAIN_WORKSPACE, "opted_in", "US", epoch + timedelta(days=5), None),
            # consent for another purpose does not count for training (nor against it)
            (MAIN_WORKSPACE, "opted_out", "US", epoch + timedelta(days=90), "advertising"),
            (SECOND_WORKSPACE, "opted_in", None, epoch + timedelta(days=5), SAMPLE_PURPOSE),
            (SECOND_WORKSPACE, "opted_out", None, epoch + timedelta(days=200), None),
        ],
        schema={
            "org_id": pl.String,
            "status": pl.String,
            "region": pl.String,
            "updated_at": timestamp,
            "purpose": pl.String,
        },
        orient="row",
    )
    messages = sorted(rng.sample(data.messages["message_id"].to_list(), 6))
    posts = sorted(rng.sample(data.posts["post_id"].to_list(), min(3, data.posts.height)))
    deletions = pl.DataFrame(
        [("messages", m, epoch + timedelta(days=310, hours=i)) for i, m in enumerate(messages)]
        + [("posts", p, epoch + timedelta(days=320, hours=i)) for i, p in enumerate(posts)],
        schema={"source": pl.String, "record_id": pl.String, "deleted_at": timestamp},
        orient="row",
    )
    data.messages = workspace(data.messages, "user_id")
    data.posts = workspace(data.posts, "author_id")
    data.orgs, data.deletions = orgs, deletions
    return data


class _Planter:
    """Fills templates with fresh PII values and remembers what it planted."""

    def __init__(self, rng: random.Random, fake: Faker, users: list[User]) -> None:
        self.rng = rng
        self.fake = fake
        self.users = users
        self.iban_fakers = [Faker(locale) for locale in ("de_DE", "fr_FR", "en_GB", "nl_NL")]
        for offset, iban_faker in enumerate(self.iban_fakers):
            iban_faker.seed_instance(SAMPLE_SEED + offset)

    def value(self, kind: str) -> tuple[str, str]:
        rng, fake = self.rng, self.fake
        if kind == "person":
            return "PERSON", f"{fake.first_name()} {fake.last_name()}"
        if kind == "email":
            if rng.random() < 0.5:
                return "EMAIL_ADDRESS", fake.email()
            first, last = fake.first_name().lower(), fake.last_name().lower()
            return "EMAIL_ADDRESS", f"{first}.{last}@{fake.free_email_domain()}"
        if kind == "phone":
            area = rng.choice(AREA_CODES)
            exchange = f"{rng.randint(2, 9)}{rng.randint(0, 9)}{rng.randint(0, 9)}"
            line = f"{rng.randint(0, 9999):04d}"
            layout = rng.choice(("({a}) {e}-{l}", "{a}-{e}-{l}", "+1 {a} {e} {l}", "{a}.{e}.{l}"))
            return "PHONE_NUMBER", layout.format(a=area, e=exchange, l=line)
        if kind == "card":
            number = fake.credit_card_number(card_type=rng.choice(("visa16", "mastercard")))
            if rng.random() < 0.5 and len(number) == 16:
                number = " ".join(number[i : i + 4] for i in range(0, 16, 4))
            return "CREDIT_CARD", number
        if kind == "ssn":
            return "US_SSN", fake.ssn()
        if kind == "ip":
            return "IP_ADDRESS", fake.ipv4_public() if rng.random() < 0.85 else fake.ipv6()
        if kind == "iban":
            iban = rng.choice(self.iban_fakers).iban()
            if rng.random() < 0.4:
                iban = " ".join(iban[i : i + 4] for i in range(0, len(iban), 4))
            return "IBAN_CODE", iban
        if kind == "address":
            address = fake.street_address()
            if rng.random() < 0.5:
                address += f", {fake.city()}, {fake.state_abbr()} {fake.zipcode()}"
            return "STREET_ADDRESS", address
        if kind == "mention":
            user = rng.choice(self.users)
            return "USER_MENTION", f"<@{user.user_id}>" if rng.random() < 0.5 else f"@{user.handle}"
        if kind == "member":  # another user of the workspace, by display name
            user = rng.choice(self.users)
            return "PERSON", f"{user.first} {user.last}"
        if kind == "url":
            user = rng.choice(self.users)
            layout = rng.choice(
                (
                    "https://twitter.com/{h}",
                    "https://github.com/{h}",
                    "https://www.linkedin.com/in/{f}-{l}-{n}",
                )
            )
            return "URL", layout.format(
                h=user.handle, f=user.first.lower(), l=user.last.lower(), n=rng.randint(10, 999)
            )
        raise ValueError(kind)

    def fill(self, template: str) -> tuple[str, list[tuple[str, str]]]:
        planted: list[tuple[str, str]] = []
        out = template
        for kind in (
            "person",
            "email",
            "phone",
            "card",
            "ssn",
            "ip",
            "iban",
            "address",
            "mention",
            "url",
            "member",
        ):
            while "{" + kind + "}" in out:
                entity, value = self.value(kind)
                planted.append((entity, value))
                out = out.replace("{" + kind + "}", value, 1)
        return out, planted


def _user_id(rng: random.Random) -> str:
    return "U" + "".join(rng.choices(string.ascii_uppercase + string.digits, k=8))


def _when(rng: random.Random, start: datetime, days: int) -> datetime:
    return start + timedelta(seconds=rng.randint(0, days * 86_400))


def generate_sample(
    seed: int = SAMPLE_SEED,
    n_users: int = 300,
    n_messages: int = 2400,
    n_posts: int = 600,
    message_mix: Literal["templates", "chat", "pii_dense"] = "templates",
) -> SampleData:
    """Users, their consent, messages and posts. ``message_mix="chat"`` draws messages from
    the benchmark's chat-like mix (``synth_chat``) instead of the sample's templates;
    ``"pii_dense"``, the benchmark's worst case: a name and other personal data in each."""
    rng = random.Random(seed)
    fake = Faker("en_US")
    fake.seed_instance(seed)
    regions, weights = zip(*REGION_WEIGHTS.items(), strict=True)

    users: list[User] = []
    handles: set[str] = set()
    while len(users) < n_users:
        handle = fake.user_name()
        if handle in handles:
            continue
        handles.add(handle)
        region = None if rng.random() < 0.02 else rng.choices(regions, weights)[0]
        users.append(User(_user_id(rng), handle, fake.first_name(), fake.last_name(), region))

    epoch = datetime(2026, 1, 1, tzinfo=UTC)
    consent_rows: list[dict[str, object]] = []
    for user in users:
        roll = rng.random()
        if roll < 0.10:
            continue  # never asked: not in the registry at all
        status = "opted_in" if roll < 0.62 else "opted_out" if roll < 0.92 else "deleted"
        updated = _when(rng, epoch, 300)
        if rng.random() < 0.3:  # earlier, superseded decision
            earlier = "opted_out" if status == "opted_in" else "opted_in"
            consent_rows.append(
                {
                    "user_id": user.user_id,
                    "status": earlier,
                    "region": user.region,
                    "updated_at": updated - timedelta(days=30),
                    "handle": user.handle,
                    "display_name": f"{user.first} {user.last}",
                }
            )
        consent_rows.append(
            {
                "user_id": user.user_id,
                "status": status,
                "region": user.region,
                "updated_at": updated,
                "handle": user.handle,
                "display_name": f"{user.first} {user.last}",
            }
        )
    rng.shuffle(consent_rows)

    planter = _Planter(rng, fake, users)
    truth: list[tuple[str, str, str, str]] = []
    messages: list[dict[str, object]] = []
    channels = [f"C{rng.randint(10**7, 10**8 - 1)}" for _ in range(12)]
    for index in range(n_messages):
        message_id = f"m{index:06d}"
        if message_mix in ("chat", "pii_dense"):
            make = chat_message if message_mix == "chat" else pii_dense_message
            text, planted = make(rng, planter.fill, MESSAGE_TEMPLATES)
            truth += [("messages", message_id, kind, value) for kind, value in planted]
        elif rng.random() < 0.45:
            text = rng.choice(PLAIN_MESSAGES)
        else:
            text, planted = planter.fill(rng.choice(MESSAGE_TEMPLATES))
            truth += [("messages", message_id, kind, value) for kind, value in planted]
        ts = _when(rng, epoch, 300)
        messages.append(
            {
                "message_id": message_id,
                "channel_id": rng.choice(channels),
                "user_id": rng.choice(users).user_id,
                "ts": ts,
                "text": text,
                "thread_ts": ts - timedelta(minutes=rng.randint(1, 600))
                if rng.random() < 0.3
                else None,
            }
        )

    posts: list[dict[str, object]] = []
    for index in range(n_posts):
        post_id = f"p{index:06d}"
        sentences: list[str] = []
        for _ in range(rng.randint(1, 4)):
            if rng.random() < 0.5:
                sentences.append(rng.choice(POST_SENTENCES))
            else:
                sentence, planted = planter.fill(rng.choice(POST_PII_SENTENCES))
                sentences.append(sentence)
                truth += [("posts", post_id, kind, value) for kind, value in planted]
        title = None if rng.random() < 0.3 else rng.choice(POST_TITLES)
        if title is not None and rng.random() < 0.1:
            title, planted = planter.fill("Welcome {person}!")
            truth += [("posts", post_id, kind, value) for kind, value in planted]
        posts.append(
            {
                "post_id": post_id,
                "author_id": rng.choice(users).user_id,
                "created_at": _when(rng, epoch, 300),
                "title": title,
                "body": " ".join(sentences),
            }
        )

    timestamp = pl.Datetime("us", "UTC")
    sample = SampleData(
        messages=pl.DataFrame(
            messages,
            schema={
                "message_id": pl.String,
                "channel_id": pl.String,
                "user_id": pl.String,
                "ts": timestamp,
                "text": pl.String,
                "thread_ts": timestamp,
            },
        ),
        posts=pl.DataFrame(
            posts,
            schema={
                "post_id": pl.String,
                "author_id": pl.String,
                "created_at": timestamp,
                "title": pl.String,
                "body": pl.String,
            },
        ),
        consent=pl.DataFrame(
            consent_rows,
            schema={
                "user_id": pl.String,
                "status": pl.String,
                "region": pl.String,
                "updated_at": timestamp,
                "handle": pl.String,
                "display_name": pl.String,
            },
        ),
        users=users,
        truth=truth,
    )
    return _with_workspaces(sample, seed)


def write_sample(data: SampleData, directory: Path, row_group_rows: int = 500) -> None:
    """Write the exports, registries and tombstones as Parquet (zstd, fixed row groups so
    the planner has units)."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, frame in (
        ("messages", data.messages),
        ("posts", data.posts),
        ("consent", data.consent),
        ("orgs", data.orgs),
        ("deletions", data.deletions),
    ):
        if frame is None:
            continue
        frame.write_parquet(
            directory / f"{name}.parquet",
            compression="zstd",
            row_group_size=row_group_rows,
            statistics=True,
        )
