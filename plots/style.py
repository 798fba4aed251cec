"""One look for every figure: mplhep's ROOT style (scoped), one size scheme, the corner label.

:func:`style` applies mplhep's ROOT style (26 pt base) in a context manager; figures are
:data:`COLUMN_WIDTH_IN` (10 in) wide per column, :data:`PAGE_WIDTH_IN` for panels side by
side, with text sized only by the names of :data:`FONT`. :func:`corner_label` writes
"Recast" and the paper (or :func:`demo_text`) above the axes, no experiment's name;
:func:`save` writes the PDF and a 150 dpi PNG::

    with style():
        fig, ax = plt.subplots(figsize=(COLUMN_WIDTH_IN, 8))
        corner_label(ax, rlabel="90% CL", demo=demo)
    save(fig, "figS1")

Details: plots/README.md.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from t2khnl import files

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "COLUMN_WIDTH_IN",
    "FONT",
    "PAGE_WIDTH_IN",
    "PAPER",
    "FontScheme",
    "close",
    "corner_label",
    "demo_text",
    "save",
    "statement",
    "style",
]

logger = logging.getLogger(__name__)

COLUMN_WIDTH_IN = 10.0
"""Width of a one-column figure [in] (mplhep's default figure width)."""
PAGE_WIDTH_IN = 2 * COLUMN_WIDTH_IN
"""Width of a figure spanning the page [in]."""
PAPER = "arXiv:2412.15051"
"""The recast paper, named in every figure's corner label."""
_STATEMENT_GID = "statement"
PNG_DPI = 150
"""Resolution of the PNG copies [dots per inch]; the PDFs are vector."""


class FontScheme(NamedTuple):
    """Relative font sizes (matplotlib size names) of the parts of a figure.

    The base size is mplhep's ROOT ``font.size`` (26 pt); these names scale it.
    """

    label: str = "medium"
    """Axis and colour-bar labels."""
    tick: str = "small"
    """Tick labels (mplhep's ROOT default)."""
    legend: str = "small"
    """Legend entries and panel titles."""
    note: str = "x-small"
    """Text on the plot: region labels, annotations, notes."""
    corner: str = "small"
    """The corner label above the axes."""


FONT = FontScheme()
"""The one size scheme of all figures."""


@contextlib.contextmanager
def style() -> Iterator[None]:
    """mplhep's ROOT style with :data:`FONT`'s sizes, scoped: rcParams are restored on exit."""
    import matplotlib.pyplot as plt
    import mplhep

    scheme = {
        "axes.labelsize": FONT.label,
        "xtick.labelsize": FONT.tick,
        "ytick.labelsize": FONT.tick,
        "legend.fontsize": FONT.legend,
        "axes.titlesize": FONT.legend,
        "figure.titlesize": FONT.label,
        "pdf.fonttype": 42,  # TrueType in the PDF: the text stays text (searchable, editable)
    }
    with plt.style.context([mplhep.style.ROOT, scheme]):
        yield


def demo_text(n_masses: int, events_per_beam: int, most: int | None = None) -> str:
    """The statement every figure of a coarse demonstration carries.

    Args:
        n_masses: masses simulated for the figure.
        events_per_beam: upscatters simulated per beam and mass (the fewest, if they differ).
        most: the most upscatters per beam a mass got, if more than ``events_per_beam``.

    Returns:
        "demo: N masses, M events per beam" (M as "M-K" when the masses differ).
    """
    events = f"{events_per_beam}" if not most or most == events_per_beam else (
        f"{events_per_beam}-{most}")
    return f"demo: {n_masses} masses, {events} events per beam"


def corner_label(
    ax: Axes, *, rlabel: str | None = None, demo: str | None = None, left: bool = True
) -> None:
    """Write the corner label above ``ax`` with mplhep's label helper.

    Args:
        ax: the axes.
        rlabel: right-hand text (what is shown: exposure, CL); none if None.
        demo: the demo statement (:func:`demo_text`) of a coarse run, shown instead of the
            paper's reference; None for a full run.
        left: write the left-hand part ("Recast" and the paper or demo statement); False
            for the further panels of a row, which repeat only their right-hand text.
    """
    import mplhep
    from matplotlib.transforms import offset_copy

    texts = mplhep.label.exp_label(
        exp="Recast" if left else "", llabel=(demo or PAPER) if left else "",
        rlabel=rlabel or "", loc=0, ax=ax, fontsize=FONT.corner,
    )
    for text in texts:
        if text is not None and text.get_text() in (demo, PAPER):
            text.set_gid(_STATEMENT_GID)
    # a right-hand text that would run into the left-hand one goes a line higher
    right, lefts = texts[2], [t for t in texts[:2] if t is not None and t.get_text()]
    if right is None or not right.get_text() or not lefts:
        return
    renderer = ax.figure.canvas.get_renderer()  # type: ignore[attr-defined]
    box = right.get_window_extent(renderer)
    end = max(t.get_window_extent(renderer).x1 for t in lefts)
    if end + 0.5 * box.height > box.x0:
        points = 1.3 * box.height * 72.0 / ax.figure.dpi
        right.set_transform(offset_copy(right.get_transform(), ax.figure,  # type: ignore[arg-type]
                                        y=points, units="points"))


def statement(fig: Figure) -> str:
    """What a figure says it is: the paper it recasts or its demo statement (the texts of
    :func:`corner_label`), joined by "; "."""
    from matplotlib.text import Text

    found = fig.findobj(lambda a: isinstance(a, Text) and a.get_gid() == _STATEMENT_GID)
    return "; ".join(dict.fromkeys(t.get_text() for t in found))  # type: ignore[attr-defined]


def save(fig: Figure, stem: str | os.PathLike[str]) -> tuple[Path, Path]:
    """Write ``stem.pdf`` (vector) and ``stem.png`` (:data:`PNG_DPI`); return their paths.

    Both files carry the figure's :func:`statement` in their metadata (PDF ``Subject``, PNG
    ``Description``), so a demo's files say so to any reader of the files.
    """
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = (stem.with_name(stem.name + ".pdf"), stem.with_name(stem.name + ".png"))
    said = statement(fig)
    with style():
        for path in paths:
            pdf = path.suffix == ".pdf"
            with files.atomic_path(path) as tmp:  # never half a figure, mode from the umask
                fig.savefig(tmp, format=path.suffix[1:], dpi=None if pdf else PNG_DPI,
                            bbox_inches="tight", metadata={
                                "Title": stem.name, "Subject" if pdf else "Description": said})
    logger.info("wrote %s and %s", *paths)
    return paths


def close(fig: Figure) -> None:
    """Release a saved figure (pyplot keeps every figure it made until it is closed)."""
    import matplotlib.pyplot as plt

    plt.close(fig)
