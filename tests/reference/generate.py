#!/usr/bin/env python3
"""Writes the differential corpus for tarcza's number parsing, answered by libphonenumber.

Every line of the (gzipped JSON Lines) corpus is

    [input, default region, family, answer, plain answer]

where `answer` is what Google's libphonenumber (through its Python port `phonenumbers`, the
version pinned in requirements.txt, whose metadata is the one the `phonenumber` crate
carries) says about `input` read in `default region`: the E.164 form of a valid number,
`invalid` for a number that parses but is not valid, or `error` when it does not parse.
`family` says which part of the generator made the line. `plain answer` is libphonenumber's
answer for the number the input spells under README's rules, written plainly
(`601-234\u2009567 wew. 12` as `+48601234567`, `48 48 301 23 45` as `+48483012345`), when
the generator knows it, else "": it tells a disagreement about a spelling (a separator
libphonenumber does not know) from one about the number.

The Rust test `domain::phone::reference_tests` reads the file and compares tarcza's answer
line by line. The corpus is generated from a fixed seed with a PRNG of our own, so the
same version of `phonenumbers` always writes the same lines:

    generate.py            write tests/reference/corpus.jsonl.gz
    generate.py --check    regenerate in memory and fail if the committed file differs
                           (CI runs this, so the answers really are libphonenumber's)
"""

import argparse
import gzip
import json
import os
import sys

import phonenumbers
from phonenumbers import NumberParseException, PhoneMetadata, PhoneNumberFormat, PhoneNumberType

PINNED = "9.0.33"
HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus.jsonl.gz")
SEED = 0x7A72_6361  # "tarcza"


class Rng:
    """splitmix64: the same sequence on every Python version."""

    def __init__(self, seed):
        self.state = seed & 0xFFFF_FFFF_FFFF_FFFF

    def next(self):
        self.state = (self.state + 0x9E37_79B9_7F4A_7C15) & 0xFFFF_FFFF_FFFF_FFFF
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58_476D_1CE4_E5B9) & 0xFFFF_FFFF_FFFF_FFFF
        z = ((z ^ (z >> 27)) * 0x94D0_49BB_1331_11EB) & 0xFFFF_FFFF_FFFF_FFFF
        return z ^ (z >> 31)

    def below(self, n):
        return self.next() % n

    def pick(self, seq):
        return seq[self.below(len(seq))]

    def digits(self, n):
        return "".join(str(self.below(10)) for _ in range(n))


# ---- spellings ----------------------------------------------------------------------------

SPACES = [" ", "-", ".", "\u00a0", "\u2009", "\u202f", "/", "\u2013"]
# Invisible marks that copy-paste brings along: LRM, RLM, the isolates, ALM.
DIRECTION_MARKS = ["\u200e", "\u200f", "\u2066", "\u2067", "\u2068", "\u2069", "\u061c"]
EXTENSIONS = [" ext 12", " ext. 12", " x12", "x12", " #12", ";ext=12", " wew. 12", " wew 12"]
FULLWIDTH = {str(d): chr(0xFF10 + d) for d in range(10)}
ARABIC_INDIC = {str(d): chr(0x660 + d) for d in range(10)}


def grouped(digits, sep, sizes=(3, 3, 3, 3)):
    """`digits` in groups of `sizes` (the last group takes the rest) joined by `sep`."""
    out, i = [], 0
    for size in sizes:
        if i >= len(digits):
            break
        out.append(digits[i : i + size])
        i += size
    if i < len(digits):
        out[-1] += digits[i:]
    return sep.join(out)


def map_digits(text, table):
    return "".join(table.get(c, c) for c in text)


def with_48(digits):
    """What README's rules make of `48…` without a plus: 9 digits are national (Radom),
    11 digits are +48 and the rest; other lengths have no single reading."""
    if len(digits) == 9:
        return "+48" + digits
    if len(digits) == 11:
        return "+" + digits
    return None


def spell_pl(rng, nsn):
    """One of many ways people and exports write the Polish national number `nsn`, and the
    number that spelling is under README's rules, written plainly with its +48."""
    sep = rng.pick(SPACES)
    area = [2, 3, 2, 2] if rng.below(2) else [3, 3, 3]
    plus = "+48" + nsn
    kind = rng.below(24)
    spellings = {
        0: (nsn, plus),
        1: ("+48" + nsn, plus),
        2: ("+48 " + grouped(nsn, sep), plus),
        3: ("0048" + nsn, plus),
        4: ("00 48 " + grouped(nsn, sep), plus),
        5: ("48" + nsn, with_48("48" + nsn)),
        6: (grouped(nsn, sep), plus),
        7: (grouped(nsn, sep, area), plus),
        8: ("(+48) " + grouped(nsn, sep), plus),
        9: ("(" + nsn[:2] + ") " + grouped(nsn[2:], sep, [3, 2, 2]), plus),
        10: ("tel:+48-" + grouped(nsn, "-"), plus),
        11: (grouped(nsn, sep) + rng.pick(EXTENSIONS), plus),
        12: ("+48 " + grouped(nsn, " ") + rng.pick(EXTENSIONS), plus),
        13: (map_digits(grouped(nsn, sep), FULLWIDTH), plus),
        14: (map_digits(nsn, ARABIC_INDIC), plus),
        15: (rng.pick(DIRECTION_MARKS) + "+48 " + grouped(nsn, " "), plus),
        16: (grouped(nsn, rng.pick(DIRECTION_MARKS)), plus),
        17: ("\u2066+48 " + grouped(nsn, " ") + "\u2069", plus),
        18: ("  " + grouped(nsn, " ") + " ", plus),
        19: ("+48 (0) " + grouped(nsn, " "), "+480" + nsn),
        20: ("tel:" + nsn + ";phone-context=+48", plus),
        # A redundant 00 after the +: the number is +48….
        21: ("+0048 " + grouped(nsn, sep), plus),
        22: ("\t" + grouped(nsn, "\t"), plus),
        23: ("48 " + grouped(nsn, sep), with_48("48" + nsn)),
    }
    return spellings[kind]


# ---- the corpus ---------------------------------------------------------------------------

NUMBER_TYPES = [
    PhoneNumberType.FIXED_LINE,
    PhoneNumberType.MOBILE,
    PhoneNumberType.TOLL_FREE,
    PhoneNumberType.PREMIUM_RATE,
    PhoneNumberType.SHARED_COST,
    PhoneNumberType.VOIP,
    PhoneNumberType.PERSONAL_NUMBER,
    PhoneNumberType.PAGER,
    PhoneNumberType.UAN,
    PhoneNumberType.VOICEMAIL,
]


def polish(rng, out):
    def add(spelled, family):
        text, plain = spelled
        out.append((text, "PL", family, plain))

    # Every four-digit prefix as a 9-digit number (the length of nearly every Polish number,
    # every type) in two spellings, and as a 7-digit number (`30…`, `..19…` service numbers).
    for prefix in range(1000, 10000):
        p = str(prefix)
        nsn = p + rng.digits(5)
        add(spell_pl(rng, nsn), "pl-9")
        add(spell_pl(rng, nsn), "pl-9")
        add(spell_pl(rng, p + rng.digits(3)), "pl-7")
    # Every three-digit prefix at the other lengths: too short, pager (6-9), toll-free (10),
    # too long, and with a trunk 0 (Poland has none), and as 11 digits starting 48.
    for prefix in range(100, 1000):
        p = str(prefix)
        for length in (5, 6, 8, 10, 11):
            add(spell_pl(rng, p + rng.digits(length - 3)), "pl-length")
        nsn = p + rng.digits(6)
        out.append(("0" + nsn, "PL", "pl-trunk-0", None))
        out.append(("0 " + grouped(nsn, " "), "PL", "pl-trunk-0", None))
        add(("48" + nsn, with_48("48" + nsn)), "pl-48")
        add(("48 " + grouped(nsn, rng.pick(SPACES)), with_48("48" + nsn)), "pl-48")
        add(("4848" + nsn[2:], with_48("4848" + nsn[2:])), "pl-48")
    # Radom (area code 48) in every spelling.
    for _ in range(1000):
        add(spell_pl(rng, "48" + rng.digits(7)), "pl-radom")
    # Example numbers of every type, in many spellings.
    for kind in NUMBER_TYPES:
        example = phonenumbers.example_number_for_type("PL", kind)
        if example is None:
            continue
        nsn = phonenumbers.national_significant_number(example)
        for _ in range(40):
            add(spell_pl(rng, nsn), "pl-example")


def world_examples():
    """(region or None for a non-geographic code, country code, national number, type)."""
    rows = []
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        for kind in NUMBER_TYPES:
            example = phonenumbers.example_number_for_type(region, kind)
            if example is not None:
                nsn = phonenumbers.national_significant_number(example)
                rows.append((region, example.country_code, nsn, kind))
    for code in sorted(phonenumbers.COUNTRY_CODES_FOR_NON_GEO_REGIONS):
        example = phonenumbers.example_number_for_non_geo_entity(code)
        if example is not None:
            rows.append((None, code, phonenumbers.national_significant_number(example), -1))
    return rows


def mutate(rng, nsn):
    """Near misses: one digit more or less, other last digits, a digit in the middle."""
    kind = rng.below(4)
    if kind == 0:
        return nsn + rng.digits(1)
    if kind == 1:
        return nsn[:-1]
    if kind == 2:
        return nsn[:-3] + rng.digits(3)
    cut = 1 + rng.below(max(1, len(nsn) - 1))
    return nsn[:cut] + rng.digits(1) + nsn[cut:]


def world(rng, out):
    for region, code, nsn, _kind in world_examples():
        cc = str(code)
        home = region or "PL"
        plain = "+" + cc + nsn
        example = phonenumbers.parse(plain, None)
        intl = phonenumbers.format_number(example, PhoneNumberFormat.INTERNATIONAL)
        out.append((plain, "PL", "world-example", plain))
        out.append((intl, "PL", "world-example", plain))
        out.append(("00" + cc + " " + nsn, "PL", "world-example", plain))
        out.append(("+" + cc + " " + nsn, home, "world-example", plain))
        if region is not None:
            national = phonenumbers.format_number(example, PhoneNumberFormat.NATIONAL)
            out.append((national, region, "world-national", plain))
            out.append((nsn, region, "world-national", plain))
            # `00` dialled abroad from a region whose international prefix is another one.
            out.append(("00 48 601 234 567", region, "world-idd", "+48601234567"))
            meta = PhoneMetadata.metadata_for_region(region)
            if meta.national_prefix:
                # The national prefix written after the country code (`+44 (0)20 …`).
                np = meta.national_prefix
                out.append(("+" + cc + " (" + np + ") " + nsn, "PL", "world-np", plain))
                out.append(("+" + cc + " " + np + nsn, "PL", "world-np", plain))
        for _ in range(4):
            near = "+" + cc + mutate(rng, nsn)
            out.append((near[: len(cc) + 1] + " " + near[len(cc) + 1 :], "PL", "world-near", near))
        # Random numbers that start like the example: the ranges next to valid ones.
        for _ in range(12):
            keep = 1 + rng.below(min(4, len(nsn)))
            length = max(2, len(nsn) + rng.below(3) - 1)
            digits = nsn[:keep] + rng.digits(max(0, length - keep))
            out.append(("+" + cc + digits, "PL", "world-random", "+" + cc + digits))
            if rng.below(4) == 0 and region is not None:
                out.append((digits, region, "world-random", None))


GARBAGE_PIECES = [
    "+", "00", "48", "0", " ", "-", "(", ")", ".", "/", "x", "ext", "wew.", "#", "*", ";",
    ",", "tel:", "a", "O", "l", "\u00a0", "\u200b", "\u200e", "\u2066", "\uff11", "\u0661",
    "601", "234", "567", "22", "800", "12345", "\t", "'", "=", "&", "e", "E",
]


def plain_digits(text):
    """The digits of `text` (and a leading plus) with nothing else."""
    digits = "".join(str(int(c)) for c in text if c.isdecimal())
    return ("+" if text.lstrip().startswith(("+", "\uff0b")) else "") + digits


def garbage(rng, out):
    for _ in range(6000):
        text = "".join(rng.pick(GARBAGE_PIECES) for _ in range(rng.below(12)))
        out.append((text, "PL", "garbage", plain_digits(text)))
    for _ in range(2000):
        a, b = "6" + rng.digits(8), "5" + rng.digits(8)
        joiner = rng.pick([", ", ";", " / ", " ", "\n", " | ", " & ", " i ", " or "])
        out.append((a + joiner + b, "PL", "two-numbers", None))
    for _ in range(2000):
        nsn = "6" + rng.digits(8)
        at = rng.below(9)
        letter = rng.pick(["A", "O", "l", "I", "B", "CALL", "abc"])
        out.append((nsn[:at] + letter + nsn[at:], "PL", "letters", None))


def answer(text, region):
    try:
        number = phonenumbers.parse(text, region)
    except NumberParseException:
        return "error"
    if not phonenumbers.is_valid_number(number):
        return "invalid"
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


def corpus():
    rng = Rng(SEED)
    cases = []
    polish(rng, cases)
    world(rng, cases)
    garbage(rng, cases)
    plain_answers = {}
    lines = []
    for text, region, family, plain in cases:
        if plain is None:
            plain_answer = ""
        elif (plain, region) in plain_answers:
            plain_answer = plain_answers[(plain, region)]
        else:
            plain_answer = plain_answers[(plain, region)] = answer(plain, region)
        row = [text, region, family, answer(text, region), plain_answer]
        lines.append(json.dumps(row, ensure_ascii=False) + "\n")
    return "".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="compare with the committed file")
    args = parser.parse_args()
    if phonenumbers.__version__ != PINNED:
        sys.exit(f"phonenumbers {phonenumbers.__version__} installed, the corpus needs {PINNED}")
    text = corpus()
    if args.check:
        with gzip.open(CORPUS, "rt", encoding="utf-8") as f:
            committed = f.read()
        if committed != text:
            old, new = committed.splitlines(), text.splitlines()
            diff = [(i, a, b) for i, (a, b) in enumerate(zip(old, new)) if a != b]
            for i, a, b in diff[:10]:
                print(f"line {i + 1}:\n  committed: {a}\n  libphonenumber: {b}", file=sys.stderr)
            sys.exit(
                f"{CORPUS} differs from what libphonenumber {PINNED} answers "
                f"({len(old)} lines committed, {len(new)} generated, {len(diff)} differ); "
                "run tests/reference/generate.py and commit the result"
            )
        print(f"corpus matches libphonenumber {PINNED}: {len(text.splitlines())} lines")
        return
    # mtime 0: the same corpus gives the same file.
    with open(CORPUS, "wb") as raw:
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9) as f:
            f.write(text.encode("utf-8"))
    print(f"wrote {CORPUS}: {len(text.splitlines())} lines")


if __name__ == "__main__":
    main()
