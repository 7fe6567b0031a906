"""Word lists and regex pieces of international addresses (used by intl_address.py)."""

from __future__ import annotations

import re

from redactors.recognizers.address_words import _SUFFIXES

# Street-type words written before or after the name as a word of their own, in the main
# European languages: FR "12 rue de la Paix", ES "Calle Mayor 3", IT "Via Roma 10", PT "Rua
# Augusta 5", PL "ul. Zuchów 65", HU "Király u. 23.", GR "οδός". Matched in any case
# ("12 rue de la Paix" is how the French write it): none of them is an English word.
TYPE_WORDS_ANY_CASE = (
    "rue avenue av. avda avda. avenida boulevard bd bd. bld. chemin ch. quai allée impasse "
    "imp. calle c/ paseo pº camino carretera ctra. ctra travesía ronda viale v.le piazza "
    "p.za piazzale vicolo strada rua r. travessa tv. estrada praça alameda ul. ulica al. "
    "aleja os. osiedle plac straße strasse str. gasse weg platz allee gracht straat laan "
    "plein kade utca u. út útja tér körút rakpart vej gade vei veien gata gatan väg vägen "
    "katu tie οδός οδ. λεωφ. λεωφόρος sokak cadde caddesi pl. allé"
).split()
# English words first ("5 place settings", "sent 3 via Slack"): a street type only when
# capitalised.
TYPE_WORDS_CAPITALISED = (
    "Place Route Via Plaza Cours Largo Corso Passage Promenade Rambla Av "
    # Spanish and Italian street types that are English words or rare in lower case
    "Vial Acceso Cuesta Pasaje Pasadizo Glorieta Urbanización Callejón Cañada "
    "Borgo Contrada Rotonda Incrocio Stretto Canale"
).split()
# Street types that are one only as the end of a hyphenated name ("Sara-Hauffer-Ring 25",
# not "Olympic Ring 5").
TYPE_WORDS_JOINED_ONLY = ["Ring"]
# Street-type endings of one-word street names: DE/AT/CH "Hauptstraße", "Musterweg",
# NL "Keizersgracht", DK/NO/SE "Håndværkervej", "Simavikveien", "Vesturgata", FI
# "Koskikatu", "Jäämerentie". A name needs three letters before the ending ("Spring" is
# no street).
COMPOUND_ENDINGS = (
    "straße strasse str. gasse weg platz allee damm ufer gracht straat laan plein kade dijk "
    "singel steeg vej gade stræde vei veien veg vegen gata gatan väg vägen gränd katu tie "
    "kuja polku utca braut hof baan dreef boulevard stigen torget allé"
).split()
# Nordic endings that also take a stem of one or two letters, capitalised: SE "Nygatan 12",
# "Nyvägen 98", DK "Åvej 70", "Nygade 3". No English word is such a stem and one of them.
SHORT_STEM_ENDINGS = (
    "vej vei veien veg vegen väg vägen gata gatan gade gränd stræde stigen torget"
).split()
# English and US street suffixes (USPS, address_words.py), as a word of their own after
# the name: "Møller Street", "Stone Cellar Road".
ENGLISH_SUFFIXES = sorted(set(_SUFFIXES) | {"Str", "Rd."})

# Flat, suite, apartment, unit, floor, building lines: "Apt. 441", "Suite 992", "Flat 3",
# "2nd floor", "Unit 4B", "Level 4" (Australian floors), "#12". Not "room", "top"
# (Austrian flats), "stock" (German floors): "room 5", "Top 3", "stock 5" are chat.
UNIT = (
    r"(?:(?i:apt|apartment|appt|suite|ste|unit|flat|fl|floor|level|lvl|bldg|building|bâtiment"
    r"|bât|étage|piso|planta|puerta|wohnung|whg|lgh|appartamento|interno|int|scala|piano)"
    r"\.?[ \t]*#?[ \t]*"
    r"\d{1,5}[A-Za-z]?(?:[-/]\d{1,4}[A-Za-z]?)?\b"
    r"|\d{1,2}(?i:st|nd|rd|th|º|ª|e|er)?\.?\s+(?i:floor|fl\.|étage|piso|stock|og)\b"
    r"|#\s?\d{1,5}[A-Za-z]?\b)"
)
# Post office boxes and military addresses: "P.O. Box 123", "PO Box 12", "Postfach 12 34",
# "Apartado 45", "Boîte postale 12", "Casella postale 7", "PSC 4926, Box 7979",
# "Unit 4714 Box 6368", "USS Dam" (then an "FPO AE 94560" line).
PO_BOX = (
    r"(?:\b(?i:p\.?\s?o\.?\s*box|post\s+office\s+box|postfach|apartado(?:\s+de\s+correos)?"
    r"|bo[iî]te\s+postale|b\.?p\.|case\s+postale|casella\s+postale|caixa\s+postal"
    r"|postboks|box)\s*\d[\d ]{0,6}\d?\b"
    r"|\b(?:PSC|CMR|Unit)\s+\d{3,5},?\s+Box\s+\d{2,5}\b"
    r"|\bUS(?:S|NS|NV|CGC)\s+[^\W\d_][\w'’-]*)"
)
MILITARY_POST = r"\b(?:APO|FPO|DPO)\s+A[AEP]\s+\d{5}\b"
# Postcodes: US ZIP(+4) and the 4-5 digit European ones, UK ("SW1A 2AA"), Canadian
# ("K1A 0B1"), Dutch ("1012 AB"), Polish ("00-950"), Portuguese ("1000-001").
_UK_POSTCODE = (
    r"[A-Z]{1,2}\d[A-Z\d]?\s?\d(?!GB|MB|KB|TB|PB|HZ|FPS|MP)[ABD-HJLNP-UW-Z]{2}"
)
# Irish Eircodes ("D02 X285", "A65 F4E2"): a routing key, then a unique identifier of four
# from 0-9 and the letters Eircode uses. One Eircode is one dwelling.
_EIRCODE_CHAR = "[0-9AC-FHKNPRTV-Y]"
_EIRCODE_KEY = r"(?:[AC-FHKNPRTV-Y]\d{2}|D6W) ?"
_EIRCODE = rf"{_EIRCODE_KEY}{_EIRCODE_CHAR}{{4}}"
POSTCODE = (
    rf"(?:\d{{5}}(?:-\d{{4}})?|\d{{4}}(?:\s?[A-Z]{{2}})?|\d{{2}}-\d{{3}}|\d{{4}}-\d{{3}}"
    rf"|\d{{3}}\s\d{{2}}|{_UK_POSTCODE}|[A-Z]\d[A-Z]\s?\d[A-Z]\d|{_EIRCODE})"
)
# Postcodes found on their own, outside any address: a UK postcode, and an Eircode whose
# identifier mixes digits and letters (not "V12 RACE", "F16 2020").
UK_POSTCODE = re.compile(rf"(?<![\w-]){_UK_POSTCODE}(?![\w-])")
EIRCODE = re.compile(
    rf"(?<![\w-]){_EIRCODE_KEY}(?={_EIRCODE_CHAR}{{0,3}}\d)"
    rf"(?={_EIRCODE_CHAR}{{0,3}}[A-Z]){_EIRCODE_CHAR}{{4}}(?![\w-])"
)
# A postcode named as one: "my zip code is 98547", "postcode: SW1A 2AA", "PLZ 10115".
POSTCODE_NAMED = re.compile(
    rf"\b(?i:zip(?:\s*code)?|postal\s*code|post\s*code|postcode|plz|code\s+postal|cap"
    rf"|código\s+postal|cp)\b\s*(?:(?i:is|was|=)\s*|[:#-]\s*)?({POSTCODE})(?![\w-])"
)
# Words that end an address block's town lines (a sign-off or the next field, not a town).
NOT_TOWN_WORDS = frozenset(
    (
        "thanks thank regards best cheers hi hello dear sincerely yours kind warm phone tel "
        "email e-mail fax mobile cell web website www http https note ps p.s. see or "
        "to from subject date name address office for this that these those with "
        "please pls thx last next night week today tomorrow yesterday tonight is are was "
        "were be been will would can could should my your his her our their it its a an at "
        "in on by as so if but not no yes ok lol was has have had did does do i we you he "
        "she they me us them "
        # a date is no street and no town: "April 21, 2014", "Monday 5"
        "january february march april may june july august september october november "
        "december jan feb mar apr jun jul aug sep sept oct nov dec monday tuesday "
        "wednesday thursday friday saturday sunday mon tue tues wed thu thur thurs fri sat "
        "sun"
    ).split()
)
# Lower-case words that may sit inside a town or country name: "Horka nad Moravou",
# "Saint Vincent and the Grenadines", "People's Republic of China", "Torres de Albánchez".
NAME_PARTICLES = frozenset(
    (
        "of the and de la le les des du da das do dos di del della van von der den ter "
        "nad pod u am an im auf bei y e i sur sous en aan op upon"
    ).split()
)
# Verbs and phrases that introduce an address ("lives at", "address:", "sent to") are
# address_words.ADDRESS_INTRO; a few more that name one: "the address of X is", "located".
ADDRESS_NAMED = re.compile(
    r"(?i:\baddress(?:es)?\b[^.\n]{0,40}?(?:\bis|:)|\boffice\s+is\s+at|\bheadquarter(?:s|ed)"
    r"\s+(?:is\s+)?(?:at|in)|\bsent\s+to|\barrived\s+at|\bmail\s+(?:it\s+)?to)\s*:?\s*\Z"
)
