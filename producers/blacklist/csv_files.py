"""CSV import and export of the local blacklist.

Import columns: number, reason, expires_at (ISO-8601; empty means forever). A first row naming the
columns is optional: with one, columns are found by name, so an export (or an SMSAPI export, whose
columns are phone_number and expire_at) imports back; without one they are taken in that order. Each
bad line is reported with its line number and the good ones are imported."""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from typing import Final, TextIO

from smsq.config.limits import DEFAULT_LIMITS, LimitSettings
from smsq.producers.blacklist.store import Blacklist, NewEntry
from smsq.producers.csv_input import checked_rows, text_lines
from smsq.producers.errors import InvalidInput

EXPORT_COLUMNS: Final = ("number", "source", "reason", "added_at", "expires_at")
IMPORT_COLUMNS: Final = ("number", "reason", "expires_at")
# Other spellings of the import columns, as other tools (SMSAPI's export among them) write them.
ALIASES: Final = {"phone_number": "number", "phone": "number", "expire_at": "expires_at"}


@dataclass(frozen=True)
class ImportReport:
    imported: int
    already_listed: int
    problems: list[tuple[int, str]] = field(default_factory=list)  # (line number, what is wrong)

    @property
    def ok(self) -> bool:
        return not self.problems


def import_csv(
    blacklist: Blacklist, text: str | TextIO, *, source: str = "csv", limits: LimitSettings = DEFAULT_LIMITS
) -> ImportReport:
    """Validate every line, then add the good ones in bulk. A file that is not CSV text at all (not
    UTF-8, binary, a line or field over the limits) raises InvalidInput naming the line and stores
    nothing. A UTF-8 byte-order mark (Excel's CSV) is dropped."""
    reader = csv.reader(text_lines(text, limits, "file"))
    columns: dict[str, int] | None = None
    entries: list[NewEntry] = []
    problems: list[tuple[int, str]] = []
    try:
        for row in checked_rows(reader, limits, "file"):
            if not any(cell.strip() for cell in row):
                continue
            if columns is None:
                columns = _header(row)
                if columns is not None:
                    continue
                columns = {name: index for index, name in enumerate(IMPORT_COLUMNS)}
            cells = {name: row[index].strip() for name, index in columns.items() if index < len(row)}
            try:
                entries.append(
                    blacklist.validated_entry(
                        number=cells.get("number", ""),
                        source=source,
                        reason=cells.get("reason") or None,
                        expires_at=cells.get("expires_at") or None,
                    )
                )
            except InvalidInput as error:
                problems.append((reader.line_num, str(error)))
    except csv.Error as error:
        raise InvalidInput([("file", f"line {reader.line_num}: not readable as CSV ({error})")]) from None
    except UnicodeDecodeError:
        raise InvalidInput([("file", "is not UTF-8 text")]) from None
    added = blacklist.add_each(entries)
    return ImportReport(imported=sum(added), already_listed=len(added) - sum(added), problems=problems)


def _header(row: list[str]) -> dict[str, int] | None:
    """Column positions when ``row`` is a header row, else None."""
    names = [ALIASES.get(cell.strip().lower(), cell.strip().lower()) for cell in row]
    if "number" not in names:
        return None
    return {name: names.index(name) for name in IMPORT_COLUMNS if name in names}


def export_csv(blacklist: Blacklist, out: TextIO) -> int:
    """Write every active entry, in number order; returns how many."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(EXPORT_COLUMNS)
    count = 0
    for entry in blacklist.iter_entries():
        expires = entry.expires_at.isoformat() if entry.expires_at else ""
        writer.writerow((entry.number, entry.source, entry.reason, entry.added_at.isoformat(), expires))
        count += 1
    return count
