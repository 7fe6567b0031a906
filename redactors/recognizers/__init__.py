"""This project's Presidio recognizers, one per module, registered from one list.

| module | recognizer | entity |
|---|---|---|
| email.py | OfflineEmailRecognizer (Presidio's, domain check offline) | EMAIL_ADDRESS |
| url.py | GatedUrlRecognizer (Presidio's, run only on words that can hold a URL) | URL |
| phone.py | GatedPhoneRecognizer (Presidio's; region-free work once a text) | PHONE_NUMBER |
| iban.py | WordSafeIbanRecognizer (Presidio's, also when a word follows the IBAN) | IBAN_CODE |
| mention.py | UserMentionRecognizer | USER_MENTION |
| street_address.py | StreetAddressRecognizer (patterns in address_words.py) | STREET_ADDRESS |
| intl_address.py | InternationalAddressRecognizer (intl_address_words.py) | STREET_ADDRESS |
| card.py | Mastercard2SeriesRecognizer | CREDIT_CARD |
| luhn_card.py | LuhnCardRecognizer (12-19 digits, Luhn; grouping or card words) | CREDIT_CARD |
| possible_phone.py | PossiblePhoneRecognizer (possible, not only valid numbers) | PHONE_NUMBER |
| secret.py | SecretRecognizer | SECRET |
| date_of_birth.py | DateOfBirthRecognizer | DATE_OF_BIRTH |
| cued_ssn.py | CuedSsnRecognizer (SSN-shaped numbers after an SSN cue, valid or not) | US_SSN |
| chat_name.py | ChatAddressRecognizer | PERSON |
| lexicon_name.py | LexiconNameRecognizer (multi-locale names; lists: name_lexicon.py) | PERSON |
| ner_name.py | NerNameRecognizer (model ORG/GPE/NORP spans with name evidence) | PERSON |
| cued_name.py | CuedNameRecognizer (unknown capitalised words next to a person cue) | PERSON |
| public_figure.py | PublicFigureRecognizer (famous people by name, any case) | PERSON |

``CUSTOM_RECOGNIZERS`` is the list ``custom_recognizers`` builds from; Presidio's own are
replaced by their offline/gated versions in ``redactors.detector.base_registry``.
"""

from __future__ import annotations

from presidio_analyzer import EntityRecognizer

from redactors.recognizers.card import Mastercard2SeriesRecognizer
from redactors.recognizers.chat_name import ChatAddressRecognizer
from redactors.recognizers.cued_name import CuedNameRecognizer
from redactors.recognizers.cued_ssn import CuedSsnRecognizer
from redactors.recognizers.date_of_birth import DateOfBirthRecognizer
from redactors.recognizers.email import OfflineEmailRecognizer
from redactors.recognizers.group_regex import GroupRegexRecognizer, TextOnlyRecognizer
from redactors.recognizers.intl_address import InternationalAddressRecognizer
from redactors.recognizers.lexicon_name import LexiconNameRecognizer
from redactors.recognizers.luhn_card import LuhnCardRecognizer
from redactors.recognizers.mention import UserMentionRecognizer
from redactors.recognizers.ner_name import NerNameRecognizer
from redactors.recognizers.phone import GatedPhoneRecognizer
from redactors.recognizers.possible_phone import PossiblePhoneRecognizer
from redactors.recognizers.public_figure import PublicFigureRecognizer
from redactors.recognizers.secret import SecretRecognizer
from redactors.recognizers.street_address import StreetAddressRecognizer
from redactors.recognizers.text_gates import url_gate
from redactors.recognizers.url import GatedUrlRecognizer

# The recognizers this project adds to Presidio's predefined ones, in registration order.
CUSTOM_RECOGNIZERS: tuple[type[EntityRecognizer], ...] = (
    UserMentionRecognizer,
    StreetAddressRecognizer,
    InternationalAddressRecognizer,
    Mastercard2SeriesRecognizer,
    LuhnCardRecognizer,
    PossiblePhoneRecognizer,
    SecretRecognizer,
    DateOfBirthRecognizer,
    CuedSsnRecognizer,
    ChatAddressRecognizer,
    LexiconNameRecognizer,
    NerNameRecognizer,
    CuedNameRecognizer,
    PublicFigureRecognizer,
)


def custom_recognizers(language: str) -> list[EntityRecognizer]:
    """One instance of each of ``CUSTOM_RECOGNIZERS`` for ``language``."""
    return [recognizer(supported_language=language) for recognizer in CUSTOM_RECOGNIZERS]


__all__ = [
    "CUSTOM_RECOGNIZERS",
    "ChatAddressRecognizer",
    "CuedNameRecognizer",
    "CuedSsnRecognizer",
    "DateOfBirthRecognizer",
    "GatedPhoneRecognizer",
    "GatedUrlRecognizer",
    "GroupRegexRecognizer",
    "InternationalAddressRecognizer",
    "LexiconNameRecognizer",
    "LuhnCardRecognizer",
    "Mastercard2SeriesRecognizer",
    "NerNameRecognizer",
    "OfflineEmailRecognizer",
    "PossiblePhoneRecognizer",
    "PublicFigureRecognizer",
    "SecretRecognizer",
    "StreetAddressRecognizer",
    "TextOnlyRecognizer",
    "UserMentionRecognizer",
    "custom_recognizers",
    "url_gate",
]
