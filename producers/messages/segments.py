"""How many SMS parts a text takes: GSM 03.38 (7-bit) when every character is in its alphabet,
else UCS-2. GSM-7: 160 septets in one part, 153 per part of a longer one, the extension characters
taking two; UCS-2: 70 and 67 (characters outside the BMP take two UTF-16 units)."""

from __future__ import annotations

from typing import Final

GSM7_BASIC: Final = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENDED: Final = frozenset("^{}\\[~]|€\f")


def sms_segments(text: str) -> int:
    """Parts the text is sent in (1 for an empty text)."""
    if all(ch in GSM7_BASIC or ch in GSM7_EXTENDED for ch in text):
        units = len(text) + sum(1 for ch in text if ch in GSM7_EXTENDED)
        single, each = 160, 153
    else:
        units = len(text.encode("utf-16-le")) // 2
        single, each = 70, 67
    return 1 if units <= single else -(-units // each)
