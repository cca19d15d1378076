"""Reading CSV files from people: campaign recipients and blacklist imports.

A file is checked before anything is stored, so a bad one is one clear error and nothing else: it
must be UTF-8 text (a UTF-8 byte-order mark, as Excel writes, is allowed and dropped), hold no NUL
byte (a binary file, or UTF-16 without its mark), and have no line or field longer than the limits
(``SMSQ_LIMITS__CSV_LINE_CHARS``, ``__CSV_FIELD_CHARS``). Every refusal names the line.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Final, NoReturn, TextIO

from smsq.config.limits import LimitSettings
from smsq.producers.errors import InvalidInput

BOM: Final = "\ufeff"
_OTHER_ENCODINGS: Final = (
    (codecs.BOM_UTF32_LE, "UTF-32"),
    (codecs.BOM_UTF32_BE, "UTF-32"),
    (codecs.BOM_UTF16_LE, "UTF-16"),
    (codecs.BOM_UTF16_BE, "UTF-16"),
)
_BUFFER: Final = 1 << 20


def scan_file(path: Path, limits: LimitSettings, field: str = "csv") -> int:
    """Check the whole file in one pass over its bytes; return how many lines it has."""
    try:
        handle = path.open("rb")
    except OSError as error:
        raise InvalidInput([(field, f"{path} cannot be read: {error.strerror}")]) from None
    decoder = codecs.getincrementaldecoder("utf-8")()
    line, carry = 1, 0  # the line being read, and how much of it the previous buffers held
    with handle:
        first = True
        while buffer := handle.read(_BUFFER):
            if first:
                for mark, name in _OTHER_ENCODINGS:
                    if buffer.startswith(mark):
                        raise InvalidInput([(field, f"is {name} text, not UTF-8 text; save it as UTF-8")])
                first = False
            if b"\x00" in buffer:
                at = line + buffer[: buffer.index(b"\x00")].count(b"\n")
                raise InvalidInput(
                    [(field, f"line {at} holds a NUL byte: a binary file (or UTF-16), not UTF-8 CSV text")]
                )
            try:
                text = decoder.decode(buffer)
            except UnicodeDecodeError as error:
                at = line + buffer[: max(error.start, 0)].count(b"\n")
                byte = f"0x{buffer[error.start]:02x}"
                raise InvalidInput(
                    [(field, f"line {at} is not UTF-8 text (byte {byte}); save the file as UTF-8")]
                ) from None
            lengths = list(map(len, text.split("\n")))
            lengths[0] += carry
            most = limits.csv_line_chars
            if max(lengths) > most:
                too_long(line + next(i for i, n in enumerate(lengths) if n > most), limits, field)
            carry = lengths[-1]
            line += len(lengths) - 1
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            raise InvalidInput([(field, f"line {line} is not UTF-8 text (it ends mid-character)")]) from None
    return line if carry else line - 1


def too_long(line: int, limits: LimitSettings, field: str) -> NoReturn:
    most = limits.csv_line_chars
    raise InvalidInput(
        [(field, f"line {line} is longer than {most} characters (SMSQ_LIMITS__CSV_LINE_CHARS)")]
    )


def text_lines(source: str | TextIO, limits: LimitSettings, field: str = "file") -> Iterator[str]:
    """The lines of CSV text (a string or a text stream), a leading BOM dropped, each checked for
    length and NUL bytes as it is read: for csv.reader."""
    stream = io.StringIO(source) if isinstance(source, str) else source
    number = 0
    while True:
        try:
            line = stream.readline(limits.csv_line_chars + 2)  # + room for \r\n
        except UnicodeDecodeError:
            at = number + 1
            raise InvalidInput([(field, f"line {at} is not UTF-8 text; save the file as UTF-8")]) from None
        if not line:
            return
        number += 1
        if number == 1 and line.startswith(BOM):
            line = line[1:]
        if len(line.rstrip("\r\n")) > limits.csv_line_chars:
            too_long(number, limits, field)
        if "\x00" in line:
            raise InvalidInput([(field, f"line {number} holds a NUL byte: not CSV text")])
        yield line


def checked_rows(
    reader: Iterable[list[str]], limits: LimitSettings, field: str = "csv"
) -> Iterator[list[str]]:
    """Rows of a csv.reader; a field over the limit, or text csv cannot read, is one InvalidInput."""
    most = limits.csv_field_chars
    # A for loop inside the try, not next() in one per row: a million rows pay no call and handler
    # setup each (the consumer's own exceptions never reach this frame).
    try:
        for row in reader:
            if sum(map(len, row)) > most and any(len(cell) > most for cell in row):
                line = getattr(reader, "line_num", "?")
                why = f"has a field longer than {most} characters (SMSQ_LIMITS__CSV_FIELD_CHARS)"
                raise InvalidInput([(field, f"line {line} {why}")])
            yield row
    except csv.Error as error:
        line = getattr(reader, "line_num", "?")
        raise InvalidInput([(field, f"line {line}: not readable as CSV ({error})")]) from None
    except UnicodeDecodeError:
        line = getattr(reader, "line_num", 0) + 1
        raise InvalidInput([(field, f"line {line} is not UTF-8 text; save the file as UTF-8")]) from None
