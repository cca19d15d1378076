"""SMS parts of a campaign's messages, counted per recipient at creation without rendering each
text when it can be avoided: a million-recipient campaign pays about a microsecond a recipient.

The template's SMS text is split once into literal pieces and variables. When the literals and a
recipient's values are all in the GSM-7 default alphabet (one regex scan over the joined values),
the septets are the literals' plus the values' lengths and the parts follow from the sizes alone;
any other recipient's text is rendered and counted in full (``segments.count``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from smsq.producers.campaigns.model import CampaignTemplate
from smsq.producers.messages.models import Sms
from smsq.producers.messages.personalise import PLACEHOLDER, render
from smsq.producers.messages.segments import NOT_BASIC, UCS2, Segments, count, part_sizes

# (parts, UCS-2?) of one recipient's SMS text; (0, False) when the template has no SMS part.
Parts = tuple[int, bool]
NO_SMS: Parts = (0, False)


@dataclass(frozen=True)
class PartsCounter:
    """Counts one template's SMS parts for the values of its variables (in ``variables`` order)."""

    sms: Sms | None
    variables: tuple[str, ...]
    auto_replace: Mapping[str, str] = field(default_factory=dict)
    _literal_septets: int = 0
    _plain: bool = False  # the literals are all GSM-7 default alphabet
    _used: tuple[int, ...] = ()  # for each placeholder occurrence, its index in ``variables``
    _constant: Parts | None = None
    _single: int = 160  # GSM-7 septets in one part, and in each part of a longer text (the UDH's)
    _each: int = 153
    # One shared tuple per parts count: a million recipients make a few distinct answers, and a
    # pickled chunk (parse_rows runs in a pool) writes a repeated object as a back-reference.
    _gsm_parts: dict[int, Parts] = field(default_factory=dict, compare=False)

    @classmethod
    def of(
        cls,
        template: CampaignTemplate,
        variables: Sequence[str],
        auto_replace: Mapping[str, str] | None = None,
    ) -> PartsCounter:
        sms = next((part for part in template.messages if isinstance(part, Sms)), None)
        table = dict(auto_replace or {})
        if sms is None:
            return cls(None, tuple(variables), table, _constant=NO_SMS)
        literals, used = [], []
        last = 0
        for match in PLACEHOLDER.finditer(sms.text):
            literals.append(sms.text[last : match.start()])
            literals.append("%" if match.group(1) is None else "")
            if match.group(1) is not None:
                used.append(list(variables).index(match.group(1)))
            last = match.end()
        literals.append(sms.text[last:])
        literal = "".join(literals)
        constant = None
        single, each = part_sizes(gsm=True, udh=sms.udh)
        if not used:
            result = sms.segments(table)
            constant = (result.segments, result.encoding == UCS2)
        return cls(
            sms,
            tuple(variables),
            table,
            _literal_septets=len(literal),
            _plain=NOT_BASIC.search(literal) is None,
            _used=tuple(used),
            _constant=constant,
            _single=single,
            _each=each,
        )

    def parts(self, values: Sequence[str]) -> Parts:
        """(parts, UCS-2?) of the text these values render."""
        if self._constant is not None:
            return self._constant
        assert self.sms is not None
        if self._plain:
            used = self._used
            filled = values[used[0]] if len(used) == 1 else "".join([values[i] for i in used])
            if NOT_BASIC.search(filled) is None:
                # parts_for's arithmetic with the sizes worked out once (tests: test_parts.py).
                septets = self._literal_septets + len(filled)
                parts = 1 if septets <= self._single else -(-septets // self._each)
                shared = self._gsm_parts.get(parts)
                if shared is None:
                    shared = self._gsm_parts.setdefault(parts, (parts, False))
                return shared
        result = self.full(values)
        return result.segments, result.encoding == UCS2

    def full(self, values: Sequence[str]) -> Segments:
        """The full count of the rendered text (what ``parts`` falls back to)."""
        assert self.sms is not None
        text = render(self.sms.text, dict(zip(self.variables, values, strict=True)))
        return count(text, udh=self.sms.udh, autoconvert=self.sms.autoconvert, auto_replace=self.auto_replace)
