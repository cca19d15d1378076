"""SMS segment counting (GSM 03.38 vs UCS-2), shared by the providers that price or limit by parts."""

from __future__ import annotations

GSM7_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENDED = set("^{}\\[~]|€\f")


def is_gsm7(text: str) -> bool:
    return all(ch in GSM7_BASIC or ch in GSM7_EXTENDED for ch in text)


def text_length(text: str) -> int:
    """Length in GSM septets (extended characters take two) or UCS-2 characters."""
    if is_gsm7(text):
        return sum(2 if ch in GSM7_EXTENDED else 1 for ch in text)
    return len(text)


def parts_count(
    text: str, single: int = 160, multi: int = 153, ucs_single: int = 70, ucs_multi: int = 67
) -> int:
    length = text_length(text)
    one, each = (single, multi) if is_gsm7(text) else (ucs_single, ucs_multi)
    if length <= one:
        return 1
    return -(-length // each)
