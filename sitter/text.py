"""Text a person typed, kept safe to show: no control or invisible formatting characters.

A newline in a name forges an extra row of `consent list`, an escape sequence rewrites the terminal that shows it,
a right-to-left override makes one name read as another. Consent refuses such text at entry (consent.record's
`printable`); whatever is printed from storage goes through `shown` as well, in case the storage was edited.
Joiners (U+200C, U+200D) are allowed: Persian, Indic scripts and emoji are written with them.
"""

import unicodedata

JOINERS = "\u200c\u200d"  # zero-width non-joiner and joiner
FORBIDDEN = ("Cc", "Cf", "Cs", "Co")  # control, formatting, surrogate and private-use characters


def control_character(value: str) -> str | None:
    """The first character of `value` that has no place in plain text, or None."""
    return next((c for c in value if unicodedata.category(c) in FORBIDDEN and c not in JOINERS), None)


def shown(line: str) -> str:
    """One line as it is safe to print: control and formatting characters written out as \\uXXXX."""
    return "".join(f"\\u{ord(c):04x}" if unicodedata.category(c) in ("Cc", "Cf") and c not in JOINERS else c
                   for c in line)
