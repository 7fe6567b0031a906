"""Long texts: analyzed as overlapping windows cut at whitespace, findings mapped back.

spaCy refuses a text longer than its ``max_length`` (1,000,000 characters), and its memory
grows with the text. So a text longer than ``detection.window_chars`` is analyzed as
windows of at most that many characters, and the findings of every window are shifted to
offsets in the whole text and merged. The text itself is never shortened or dropped:
masking works on the whole text with the merged findings.

The guarantee is overlap: consecutive windows share at least ``overlap`` characters, so
every stretch of up to ``overlap`` characters lies wholly inside at least one window. A
finding is therefore found across a cut if it *and the context before it that its
recognizer reads* (Presidio's context words: the 5 preceding words; this project's
"password:", "born on", "thx"...) fit in ``overlap`` characters. An entity longer than
that which straddles a cut can be missed: that is the documented limit.

Findings of all windows are kept, including pieces of an entity cut at a window's edge
(its whole is found by the neighbour window, and the piece merges into it; at worst a
piece is masked too: over-masking, never a leak). Merging uses Presidio's own rule for
duplicates (same entity, contained, not higher score), then masking resolves overlaps
between entities as for any text (``mask.resolve_overlaps``).

Cuts fall right after a newline if one is near, else at other whitespace, else (a long
run without whitespace, e.g. a base64 blob) anywhere: the guarantee above rests on the
overlap, not on where a cut falls.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence

from presidio_analyzer import EntityRecognizer, RecognizerResult

Window = tuple[int, int]  # start, end offsets into the text
# progress(chars of the text, windows done, windows of the text)
WindowProgress = Callable[[int, int, int], None]
LOG = logging.getLogger(__name__)


def _snap_chars(overlap: int) -> int:
    """How far back a cut may move to reach whitespace."""
    return overlap // 4


def _snap(text: str, position: int, floor: int) -> int:
    """The cut at or before ``position`` (not before ``floor``) that follows a newline,
    else other whitespace, else ``position`` itself."""
    newline = text.rfind("\n", floor, position)
    if newline != -1:
        return newline + 1
    for cut in range(position, floor, -1):
        if text[cut - 1].isspace():
            return cut
    return position


def windows(text: str, size: int, overlap: int) -> list[Window]:
    """Windows covering ``text``: each at most ``size`` characters, consecutive ones sharing
    at least ``overlap``; ``[(0, len(text))]`` when the text fits in one.

    Nominal windows share ``overlap + snap`` characters and are ``snap`` shorter than
    ``size``; each cut then moves back by at most ``snap`` to whitespace, which can cost
    ``snap`` of overlap (a window's end) or add ``snap`` of length (a window's start).
    """
    if overlap < 1 or size < 4 * overlap:
        raise ValueError(f"need 1 <= overlap and 4 * overlap <= size, got {overlap}, {size}")
    length = len(text)
    if length <= size:
        return [(0, length)]
    snap = _snap_chars(overlap)
    shared = overlap + snap
    count = -(-(length - shared) // (size - snap - shared))  # ceil: windows needed
    # nominal starts spread evenly; window i ends ``shared`` after window i + 1 starts
    starts = [i * (length - shared) // count for i in range(count)] + [length - shared]
    cut_starts = [0] + [_snap(text, s, s - snap) for s in starts[1:count]]
    cut_ends = [_snap(text, s + shared, s + shared - snap) for s in starts[1:count]] + [length]
    return list(zip(cut_starts, cut_ends, strict=True))


def _shifted(result: RecognizerResult, offset: int) -> RecognizerResult:
    return RecognizerResult(
        entity_type=result.entity_type,
        start=result.start + offset,
        end=result.end + offset,
        score=result.score,
        analysis_explanation=result.analysis_explanation,
        recognition_metadata=result.recognition_metadata,
    )


def merge(found: Sequence[tuple[int, Sequence[RecognizerResult]]]) -> list[RecognizerResult]:
    """Findings of one text's windows, given as (window start, findings in the window),
    as findings in the whole text. A single window's findings are returned unchanged."""
    if len(found) == 1 and found[0][0] == 0:
        return list(found[0][1])
    shifted = [_shifted(result, offset) for offset, results in found for result in results]
    # Presidio's rule, as inside one analysis: an exact repeat, or a finding contained in
    # one of the same entity with at least its score, is dropped.
    return EntityRecognizer.remove_duplicates(shifted)


def overlap_groups(results: Sequence[RecognizerResult]) -> list[list[RecognizerResult]]:
    """``results`` split into groups such that no finding overlaps one of another group,
    each group in the input's order, groups in text order.

    Overlap resolution compares every finding with every one taken before it, which is
    quadratic in a long text's thousands of findings; only overlapping ones interact, so
    resolving each group alone gives the same regions in linear time.
    """
    order = sorted(range(len(results)), key=lambda i: results[i].start)
    group_of = [0] * len(results)
    group, group_end = -1, None
    for i in order:
        if group_end is None or results[i].start >= group_end:
            group, group_end = group + 1, results[i].end
        else:
            group_end = max(group_end, results[i].end)
        group_of[i] = group
    groups: list[list[RecognizerResult]] = [[] for _ in range(group + 1)]
    for i, result in enumerate(results):
        groups[group_of[i]].append(result)
    return groups


def log_window_progress(chars: int, done: int, total: int) -> None:
    """One INFO line per window of a long text (a 2 MB text takes minutes): its length and
    window n of m, never its content."""
    LOG.info("long text of %d characters: window %d of %d done", chars, done, total)


class WindowTracker:
    """Counts the windows of each long text (one in more than one window) as the batches
    that hold them are analyzed, and reports window n of m for each."""

    def __init__(
        self,
        texts: Sequence[str],
        origins: Sequence[tuple[int, int]],
        progress: WindowProgress,
    ) -> None:
        self.texts = texts
        self.origins = origins
        self.progress = progress
        self.totals = Counter(text for text, _start in origins)
        self.done: Counter[int] = Counter()

    def groups(self, groups: Iterable[list[str]]) -> Iterator[list[str]]:
        """``groups`` (consecutive pieces, in order) unchanged; after each group is analyzed
        (the caller asks for the next), the windows it held are reported."""
        position = 0
        for group in groups:
            yield group
            for text_index, _start in self.origins[position : position + len(group)]:
                total = self.totals[text_index]
                if total > 1:
                    self.done[text_index] += 1
                    self.progress(len(self.texts[text_index]), self.done[text_index], total)
            position += len(group)
