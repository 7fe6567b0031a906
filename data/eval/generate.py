"""Regenerate the labelled eval files: `.venv/bin/python data/eval/generate.py`.

dev.jsonl (1,500, for tuning) and test.jsonl (600, held out: look only to report) come from
different seeds; hard_cases.jsonl is written by hand (see HARD_CASES below).
"""

import json
from pathlib import Path

from redactors.evalset import DEV_SEED, LABELS, TEST_SEED, generate, write_jsonl

HERE = Path(__file__).resolve().parent

# Hand-written hard cases: [[LABEL|value]] marks a labelled span.
HARD_CASES = [
    "[[PERSON|april]] said the april release slips",
    "call [[PERSON|Will]] at [[PHONE_NUMBER|212-555-0199]] (not the UK NHS number format)",
    "the SSN field is empty for ref invoice 4471",
    "mail [[EMAIL_ADDRESS|john.smith@acme.com]], not john.sm",
    "v2.3.1 shipped on 2026-03-04 at 12:33, order 4471-2291-1183",
    "price is 4111 dollars, ticket #111-11-1111 is closed",
    "ping [[USER_MENTION|@maria_g]] and [[USER_MENTION|<@U024BE7LH>]], not @here",
    "my pw is in the vault, password: [[SECRET|hunter2hunter2]]",
    "[[PERSON|José Álvarez]] moved to [[STREET_ADDRESS|12 Oak Street]]",
    "[[PERSON|李雷]] and [[PERSON|Nguyễn Văn An]] joined",
    "email me at [[EMAIL_ADDRESS|ann@example.co.uk]]!!!",
    "<[[URL|https://www.linkedin.com/in/ann-lee-1234]]>",
    "IBAN [[IBAN_CODE|DE89 3704 0044 0532 0130 00]] (German test IBAN)",
    "[[CREDIT_CARD|5555-5555-5555-4444]] is the Mastercard test number",
    "server at [[IP_ADDRESS|10.0.0.12]] and [[IP_ADDRESS|2001:db8::1]]",
    "born [[DATE_OF_BIRTH|03/14/1987]], started 03/14/2019",
    "version 10.2.3.4 is not an ip, 999.1.1.1 neither",
    "AKIA is a prefix; the key is [[SECRET|AKIAIOSFODNN7EXAMPLE]]",
    "thanks [[PERSON|mark]], mark the ticket done",
    "[[PERSON|Hope Bishop]] hopes the bishop move works",
]


def parse(marked: str) -> dict:
    text, spans, rest = "", [], marked
    while "[[" in rest:
        before, _, rest = rest.partition("[[")
        inner, _, rest = rest.partition("]]")
        label, _, value = inner.partition("|")
        text += before
        spans.append({"start": len(text), "end": len(text) + len(value), "label": label})
        text += value
    return {"text": text + rest, "spans": spans}


if __name__ == "__main__":
    write_jsonl(HERE / "dev.jsonl", generate(DEV_SEED, 1500))
    write_jsonl(HERE / "test.jsonl", generate(TEST_SEED, 600))
    write_jsonl(HERE / "hard_cases.jsonl", [parse(case) for case in HARD_CASES])
    (HERE / "label_map.yaml").write_text(
        "# gold label: pipeline entity. Gold labels left unmapped still count in the\n"
        "# label-agnostic redaction metrics.\n"
        + "".join(f"{label}: {label}\n" for label in sorted(set(LABELS.values())))
    )
    print(json.dumps({"dev": 1500, "test": 600, "hard_cases": len(HARD_CASES)}))
