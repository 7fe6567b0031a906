"""A chat-like message mix for the benchmark: what a workspace export looks like in bulk.

``generate_sample(message_mix="chat")`` draws each message from four kinds, in the shares of
``CHAT_MIX``:

- ``ack``: the short replies chat repeats all day ("ok", "thanks!", "+1"), Zipf-weighted, so
  a few of them make up most of it, as in real exports;
- ``plain``: short work messages without personal data, built from slots (tickets, versions,
  times, days, tools), so they are mostly distinct texts, with the capitalised product words
  and abbreviations real chat has;
- ``pii``: a short message carrying personal data (the sample's templates: names, emails,
  phones, cards, addresses, mentions);
- ``long``: a multi-sentence message of 40 to 200 words (write-ups, incident notes), a third
  of them with personal data in one or two sentences.

The template mix (``message_mix="templates"``, the default) puts personal data in 55% of
messages; this one in about 23%, still more than most workplace chat, so the benchmark errs
on the side of more detection work. Values are made up, seeded and deterministic.
"""

from __future__ import annotations

import random
from collections.abc import Callable

CHAT_MIX = {"ack": 0.25, "plain": 0.45, "pii": 0.20, "long": 0.10}
LONG_WITH_PII = 1 / 3

ACKS = (
    "ok",
    "thanks!",
    "lol",
    "+1",
    "👍",
    "thanks",
    "ty",
    "yes",
    "ok thanks",
    "sounds good",
    "haha",
    "done",
    "np",
    "will do",
    "nice!",
    "yep",
    "got it",
    "sure",
    "no",
    "on it",
    "thx",
    "lgtm",
    "🙏",
    "agreed",
    "brb",
    "ok!",
    "lmao",
    "same",
    ":)",
    "nope",
    "cool",
    "omw",
    "morning!",
    "hmm",
    "?",
    "yes please",
    "oh no",
    "thank you!",
    "k",
    "ikr",
)
# Zipf: the k-th most common reply is 1/k as frequent as the first.
_ACK_WEIGHTS = [1 / rank for rank in range(1, len(ACKS) + 1)]

SUBJECTS = (
    "the build",
    "the deploy",
    "staging",
    "the dashboard",
    "my laptop",
    "the test suite",
    "the release",
    "the API",
    "the login page",
    "the export job",
    "the migration",
    "the onboarding flow",
    "the VPN",
    "our CI",
    "the cache",
    "prod",
    "the search page",
    "the billing service",
    "the iOS app",
    "the Android app",
    "the Jenkins job",
    "the S3 bucket",
    "the Grafana board",
    "the nightly ETL",
    "the Kafka consumer",
)
PREDICATES = (
    "is down again",
    "is green now",
    "looks slow today",
    "keeps timing out",
    "is fixed",
    "broke after the last merge",
    "needs a restart",
    "is back up",
    "works for me",
    "is flaky",
    "failed twice",
    "is stuck at {pct}%",
    "takes {n} min now",
    "is ready for review",
    "passed on the second try",
    "throws a 500",
    "is out of disk",
    "has a memory leak",
    "is behind by {n} commits",
)
SUFFIXES = (
    "",
    "",
    "",
    " lol",
    " again",
    " fyi",
    "!",
    " :(",
    " 🙃",
    ", any ideas?",
    ", looking into it",
    " since {time}",
    " after {day}'s release",
)
PLAIN_TEMPLATES = (
    "{subject} {predicate}{suffix}",
    "{subject} {predicate}{suffix}",
    "anyone know why {subject} {predicate}?",
    "heads up: {subject} {predicate}",
    "can we move the {meeting} to {day}?",
    "is {subject} on {version} yet?",
    "who owns {subject}?",
    "should we ship {version} {day}?",
    "what time is the {meeting}?",
    "did anyone look at {ticket}?",
    "{meeting} in {n} min",
    "pushed a fix for {ticket}",
    "bumped {lib} to {version}",
    "merged #{pr}",
    "reverting #{pr}, it broke {subject}",
    "out sick today, back {day}",
    "working from home {day}",
    "back at {time}",
    "lunch at {time}?",
    "{n} tests failing on {branch}",
    "{pct}% of the rollout done",
    "the invoice total is ${amount}",
    "order #{order} shipped {day}",
    "I'll take {ticket}",
    "can someone review #{pr}?",
    "{ticket} is a dup of {ticket}",
    "rolled back {version}, {subject} {predicate}",
    "PTO next week, {ticket} is yours",
    "new laptop finally arrived",
    "updated the runbook for {subject}",
)
MEETINGS = ("standup", "retro", "planning", "1:1", "demo", "sync", "all-hands", "design review")
DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "tomorrow", "next week", "today")
TIMES = ("2pm", "3:30", "10am", "noon", "4", "9:15", "11")
LIBS = ("numpy", "react", "the SDK", "postgres", "node", "terraform", "pandas", "openssl")
BRANCHES = ("main", "release/2.4", "feature/search", "develop", "hotfix/login")

LONG_SENTENCES = (
    "Quick summary of where we are with {subject}.",
    "{subject} {predicate} and we are not sure why yet.",
    "We traced it to a config change that went out with {version}.",
    "The fix is in review as #{pr} and should land {day}.",
    "Until then please avoid restarting {subject} by hand.",
    "I added a note to the runbook so the next on-call has the steps.",
    "Latency went from {n} ms to about {pct}0 ms at peak, which is why the alerts fired.",
    "Customers mostly noticed slow page loads, nobody lost data as far as we can tell.",
    "Next step is a proper post-mortem at the {meeting} on {day}.",
    "If you have logs from around {time} please drop them in the incident channel.",
    "We also want to add a canary check so this gets caught before it reaches prod.",
    "Budget for the quarter is mostly spent, so new tooling has to wait.",
    "The vendor said the new version fixes the timeout, but I would like to test it first.",
    "I think we should split the migration into smaller steps this time.",
    "Last time we tried it in one go it took {n} hours and blocked everyone.",
    "Happy to pair on it if someone has time {day}.",
    "Also, the office wifi is being replaced on {day}, so expect some downtime.",
    "Thanks everyone for jumping on this so fast yesterday.",
    "For context, {ticket} has the full timeline and the graphs.",
    "Let me know if I missed anything, I wrote this up in a hurry.",
    "The dashboards now show error rates per region, which should make this easier to spot.",
    "We agreed to freeze deploys until the {meeting} unless it is a hotfix.",
    "Most of the flaky tests were timing related and are now retried once.",
    "I will keep an eye on it over the weekend.",
)
LONG_PII_SENTENCES = (
    "{person} found the root cause, so thanks to them.",
    "If it happens again call me at {phone}, any time.",
    "Questions go to {email} until the team alias works again.",
    "{member} is the contact on the vendor side.",
    "Ping {mention} for access to the logs.",
    "The spare laptop can be picked up at {address}.",
    "{person} and {person} are on call this week.",
)


def _slots(rng: random.Random) -> dict[str, Callable[[], str]]:
    return {
        "subject": lambda: rng.choice(SUBJECTS),
        "predicate": lambda: rng.choice(PREDICATES),
        "suffix": lambda: rng.choice(SUFFIXES),
        "meeting": lambda: rng.choice(MEETINGS),
        "day": lambda: rng.choice(DAYS),
        "time": lambda: rng.choice(TIMES),
        "lib": lambda: rng.choice(LIBS),
        "branch": lambda: rng.choice(BRANCHES),
        "version": lambda: f"v{rng.randint(1, 4)}.{rng.randint(0, 12)}.{rng.randint(0, 9)}",
        "ticket": lambda: rng.choice(("#", "JIRA-", "OPS-")) + str(rng.randint(100, 9999)),
        "pr": lambda: str(rng.randint(100, 4999)),
        "order": lambda: str(rng.randint(10_000, 99_999)),
        "amount": lambda: f"{rng.randint(5, 999)}.{rng.randint(0, 99):02d}",
        "n": lambda: str(rng.randint(2, 90)),
        "pct": lambda: str(rng.randint(5, 95)),
    }


def _fill_slots(template: str, slots: dict[str, Callable[[], str]]) -> str:
    # Slots can nest (a predicate holds {pct}), so fill until none is left.
    while "{" in template:
        start = template.index("{")
        end = template.index("}", start)
        template = template[:start] + slots[template[start + 1 : end]]() + template[end + 1 :]
    return template


def pii_dense_message(
    rng: random.Random,
    fill_pii: Callable[[str], tuple[str, list[tuple[str, str]]]],
    pii_templates: tuple[str, ...],
) -> tuple[str, list[tuple[str, str]]]:
    """One message of the PII-dense mix (``message_mix="pii_dense"``): every message names
    a person and carries other personal data (an email, phone, card, address...), the worst
    case for detection cost: no text can skip the model."""
    with_name = [t for t in pii_templates if "{person}" in t or "{member}" in t]
    other = [t for t in pii_templates if "{person}" not in t and "{member}" not in t]
    template = rng.choice(with_name)
    if not any(slot in template for slot in ("{email}", "{phone}", "{ip}", "{card}")):
        template = f"{template} {rng.choice(other)}"
    return fill_pii(template)


def chat_message(
    rng: random.Random,
    fill_pii: Callable[[str], tuple[str, list[tuple[str, str]]]],
    pii_templates: tuple[str, ...],
) -> tuple[str, list[tuple[str, str]]]:
    """One message of the chat mix and the PII values planted in it ((entity, value) pairs).
    ``fill_pii`` fills a template's PII slots (the sample's planter)."""
    slots = _slots(rng)
    kind = rng.choices(tuple(CHAT_MIX), tuple(CHAT_MIX.values()))[0]
    if kind == "ack":
        return rng.choices(ACKS, _ACK_WEIGHTS)[0], []
    if kind == "plain":
        return _fill_slots(rng.choice(PLAIN_TEMPLATES), slots), []
    if kind == "pii":
        return fill_pii(rng.choice(pii_templates))
    sentences: list[str] = []
    planted: list[tuple[str, str]] = []
    with_pii = rng.random() < LONG_WITH_PII
    target_words = rng.randint(40, 200)
    while sum(len(s.split()) for s in sentences) < target_words:
        sentences.append(_fill_slots(rng.choice(LONG_SENTENCES), slots))
    if with_pii:
        for _ in range(rng.randint(1, 2)):
            sentence, values = fill_pii(rng.choice(LONG_PII_SENTENCES))
            sentences.insert(rng.randint(0, len(sentences)), sentence)
            planted += values
    text = " ".join(sentence[0].upper() + sentence[1:] for sentence in sentences)
    return text, planted
