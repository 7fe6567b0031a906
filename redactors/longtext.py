"""Long texts: what keeps their cost per character that of short texts."""

from __future__ import annotations

from collections.abc import Sequence

from presidio_analyzer import RecognizerResult


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
