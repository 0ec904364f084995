"""``EventDisplay``: browse jets as composite E2E images, with their scores and their event.

Selectors (dataset, truth label, pT range, tagger-score range) narrow the jets; the
score range slider sits under the tagger's score histogram, so picking a region of the
histogram and browsing the jets in it is one gesture. Per-layer toggles and opacity
sliders restyle the composite; the whole 280x360 event is drawn below with every
displayed jet's 125x125 window outlined (the current one solid).

The display reads frames and scores it is given (or reads a few events of a fileset
again); it never talks to a running Dask job.
"""

from __future__ import annotations

import html
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ..exceptions import BadInputError
from ..frames.selection import ObjectCuts
from ..inference.shipped import TaggerSpec
from ..processor.serialize import load_output
from ._widgets import message_png, widgets
from .composite import LAYERS, composite_figure, composite_png, figure_png, layer_status
from .event_images import event_images
from .jets import JetTable, load_jets

__all__ = ["EventDisplay"]

ALL = "(all)"
EventSource = Callable[[int], tuple[npt.NDArray[np.float32], Sequence[str]]]
"""Row of the jet table -> (C, 280, 360) images of that jet's event and their channel names."""


class EventDisplay:
    """Jet browser widget. Build it from frames in memory, or with :meth:`from_run`.

    ``frames`` (n, C, 125, 125) raw values, ``records`` a
    :class:`~e2e_coffea.frames.JetRecords` or a mapping of per-jet columns (``pt``,
    ``eta``, ``phi``, ``label``, ``event``, ``jet``, ``ieta``, ``iphi``), ``scores`` one
    array or ``{tagger: array}``. ``score_hist``: the run's (dataset, label, tagger,
    score) histogram, drawn under the score-range slider instead of the displayed jets'
    own scores. ``event_source``: how to get a jet's whole event (see ``EventSource`` in this module).
    """

    def __init__(
        self,
        frames: Any,
        records: Any,
        channels: Sequence[str],
        *,
        scores: Mapping[str, Any] | Any | None = None,
        dataset: Sequence[str] | str | None = None,
        absent: Sequence[str] = (),
        score_hist: Any = None,
        event_source: EventSource | None = None,
    ) -> None:
        table = JetTable.from_records(
            frames, records, channels, scores=scores, dataset=dataset, absent=absent
        )
        self._setup(table, score_hist=score_hist, event_source=event_source)

    @classmethod
    def from_table(
        cls, table: JetTable, *, score_hist: Any = None, event_source: EventSource | None = None
    ) -> EventDisplay:
        self = cls.__new__(cls)
        self._setup(table, score_hist=score_hist, event_source=event_source)
        return self

    @classmethod
    def from_run(
        cls,
        out_dir: str | os.PathLike[str],
        fileset: Any,
        tagger: str | TaggerSpec,
        *,
        max_events: int = 50,
        cuts: ObjectCuts | None = None,
        allow_pickle: bool = False,
    ) -> EventDisplay:
        """The jets of a saved run (``e2e-coffea run --out DIR`` or its ``output.zip``) and
        its fileset.

        The score histogram comes from ``DIR/output.zip``; the first ``max_events`` events
        of each dataset are read again and their jets scored on the fly with ``tagger``.
        ``allow_pickle=True`` also reads an older run's ``output.pkl``: only for a file you
        trust, since unpickling runs any code the file holds.
        """
        path = Path(out_dir)
        output = load_output(path, allow_pickle=allow_pickle)
        score = output.get("hists", {}).get("score")
        if score is None:
            msg = f"{path} holds no hists['score']; was it written by e2e_coffea.run / e2e-coffea run?"
            raise BadInputError(msg)
        loaded = load_jets(fileset, tagger, max_events=max_events, cuts=cuts)
        have = list(score.axes["tagger"])
        if loaded.tagger.name not in have:
            msg = f"tagger {loaded.tagger.name!r} is not in the run output {path} (it has {have})"
            raise BadInputError(msg)
        table, chunks = loaded.table, loaded.chunks

        def source(i: int) -> tuple[npt.NDArray[np.float32], Sequence[str]]:
            ds = str(table.dataset[i])
            chunk, layout = chunks[ds]
            chans = [c for c in table.channels if c not in table.absent_for(i)]
            return event_images(chunk, layout, chans, int(table.event[i])), chans

        return cls.from_table(table, score_hist=score, event_source=source)

    # -- construction -----------------------------------------------------------------
    def _setup(self, table: JetTable, *, score_hist: Any, event_source: EventSource | None) -> None:
        w = widgets()
        self.table = table
        self.score_hist = score_hist
        self.event_source = event_source
        self._event_cache: dict[tuple[str, int], tuple[npt.NDArray[np.float32], Sequence[str]]] = {}
        self._quiet = False
        taggers = sorted(table.scores)
        finite_pt = table.pt[np.isfinite(table.pt)]
        lo, hi = (
            (float(np.floor(finite_pt.min())), float(np.ceil(finite_pt.max())))
            if finite_pt.size
            else (0.0, 1.0)
        )
        hi = max(hi, lo + 1.0)
        self.dataset = w.Dropdown(
            options=[ALL, *sorted(set(table.dataset.tolist()))], value=ALL, description="dataset"
        )
        self.label = w.Dropdown(
            options=[ALL, *sorted(set(table.label.tolist()))], value=ALL, description="truth"
        )
        self.tagger = w.Dropdown(
            options=taggers or ["(no scores)"], description="tagger", disabled=not taggers
        )
        self.pt_range = w.FloatRangeSlider(
            value=(lo, hi),
            min=lo,
            max=hi,
            step=0.5,
            description="jet pT",
            readout_format=".1f",
            continuous_update=False,
        )
        self.score_range = w.FloatRangeSlider(
            value=(0.0, 1.0),
            min=0.0,
            max=1.0,
            step=0.01,
            description="score",
            continuous_update=False,
            disabled=not taggers,
            layout=w.Layout(width="500px"),
        )
        self.histogram = w.Image(format="png")
        self.count = w.HTML()
        self.prev_button = w.Button(description="◀ prev", layout=w.Layout(width="80px"))
        self.next_button = w.Button(description="next ▶", layout=w.Layout(width="80px"))
        self.jet = w.IntSlider(
            value=0, min=0, max=max(len(table) - 1, 0), description="jet #", continuous_update=False
        )
        self.image = w.Image(format="png")
        self.info = w.HTML()
        self.event_image = w.Image(format="png")
        status = layer_status(table.channels, table.absent)
        self.layer_toggles = {}
        self.layer_opacity = {}
        for layer in LAYERS:
            gone = status[layer.name] == "absent"
            self.layer_toggles[layer.name] = w.Checkbox(
                value=not gone,
                disabled=gone,
                indent=False,
                layout=w.Layout(width="150px"),
                description=f"{layer.label}{' (absent)' if gone else ''}",
            )
            self.layer_opacity[layer.name] = w.FloatSlider(
                value=1.0,
                min=0.0,
                max=1.0,
                step=0.05,
                disabled=gone,
                readout_format=".2f",
                description="opacity",
                continuous_update=False,
                layout=w.Layout(width="250px"),
                style={"description_width": "55px"},
            )
            self.layer_toggles[layer.name].add_class(f"e2e-layer-{layer.name}")
        self.image.add_class("e2e-composite")
        self.event_image.add_class("e2e-event")
        self.histogram.add_class("e2e-score-hist")
        self.next_button.add_class("e2e-next")
        self.prev_button.add_class("e2e-prev")
        self.jet.add_class("e2e-jet")

        for ctl in (self.dataset, self.label, self.pt_range, self.score_range):
            ctl.observe(self._on_filter, names="value")
        self.tagger.observe(self._on_tagger, names="value")
        self.jet.observe(lambda _: self._render_jet(), names="value")
        for ctl in [*self.layer_toggles.values(), *self.layer_opacity.values()]:
            ctl.observe(lambda _: self._render_jet(), names="value")
        self.prev_button.on_click(lambda _: self.step(-1))
        self.next_button.on_click(lambda _: self.step(+1))

        layers = w.VBox(
            [
                w.HBox([self.layer_toggles[x.name], self.layer_opacity[x.name]])
                for x in reversed(LAYERS)
            ]
        )
        self.widget = w.VBox(
            [
                w.HBox([self.dataset, self.label, self.tagger]),
                self.pt_range,
                self.histogram,
                w.HBox([self.score_range, self.count]),
                w.HBox([self.prev_button, self.jet, self.next_button]),
                w.HBox([self.image, w.VBox([self.info, layers])]),
                self.event_image,
            ]
        )
        self.selection = np.arange(len(table))
        self._on_filter(None)
        self._render_histogram()

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)

    # -- state ---------------------------------------------------------------------
    @property
    def visible_layers(self) -> list[str]:
        return [n for n, box in self.layer_toggles.items() if box.value and not box.disabled]

    @property
    def opacity(self) -> dict[str, float]:
        return {n: float(s.value) for n, s in self.layer_opacity.items()}

    @property
    def current(self) -> int | None:
        """Row of the table shown now, or None when the selection is empty."""
        if len(self.selection) == 0:
            return None
        return int(self.selection[min(self.jet.value, len(self.selection) - 1)])

    def step(self, delta: int) -> None:
        """Move the jet selector by ``delta``, wrapping around the selection."""
        if len(self.selection):
            self.jet.value = (self.jet.value + delta) % len(self.selection)

    def _filters(self) -> dict[str, Any]:
        has_scores = not self.tagger.disabled
        return {
            "dataset": None if self.dataset.value == ALL else self.dataset.value,
            "label": None if self.label.value == ALL else self.label.value,
            "pt_range": self._pt_bounds(),
            "tagger": self.tagger.value if has_scores else None,
            "score_range": tuple(self.score_range.value) if has_scores else None,
        }

    def _pt_bounds(self) -> tuple[float, float] | None:
        lo, hi = self.pt_range.value
        if lo <= self.pt_range.min and hi >= self.pt_range.max:
            return None  # full range: keep jets without a pT too
        return (lo, hi)

    # -- reactions -------------------------------------------------------------------
    def _on_filter(self, change: Any) -> None:
        self.selection = self.table.select(**self._filters())
        n = len(self.selection)
        self.count.value = f"<b>{n}</b> of {len(self.table)} jets selected"
        self._quiet = True
        try:
            self.jet.max = max(n - 1, 0)
            self.jet.value = min(self.jet.value, max(n - 1, 0))
            self.jet.disabled = n == 0
        finally:
            self._quiet = False
        if change is not None and change.owner is self.score_range:
            self._render_histogram()
        self._render_jet()

    def _on_tagger(self, change: Any) -> None:
        self._render_histogram()
        self._on_filter(None)

    def _render_jet(self) -> None:
        if self._quiet:
            return
        i = self.current
        if i is None:
            self.image.value = message_png("no jets in this selection")
            self.event_image.value = message_png("no event")
            self.info.value = "<i>no jets pass the selection</i>"
            return
        t = self.table
        absent = t.absent_for(i)
        style: dict[str, Any] = {"visible": self.visible_layers, "opacity": self.opacity}
        title = f"{t.dataset[i]}: event {t.event[i]}, jet {t.index[i]} ({t.label[i]})"
        self.image.value = composite_png(
            t.frames[i], t.channels, absent=absent, title=title, **style
        )
        self.info.value = self._info_html(i)
        if self.event_source is None:
            self.event_image.value = message_png("whole event not available (no event source)")
            return
        key = (str(t.dataset[i]), int(t.event[i]))
        if key not in self._event_cache:
            self._event_cache[key] = self.event_source(i)
        images, chans = self._event_cache[key]
        self.event_image.value = figure_png(
            composite_figure(
                images,
                chans,
                absent=absent,
                boxes=t.windows(i),
                figsize=(8.6, 4.4),
                title=f"{t.dataset[i]} event {t.event[i]}: ECAL grid 280x360, jet windows outlined",
                axis_labels=("ECAL row (eta)", "ECAL column (phi)"),
                **style,
            )
        )

    def _info_html(self, i: int) -> str:
        t = self.table
        rows = [
            ("dataset", t.dataset[i]),
            ("truth", t.label[i]),
            ("event", t.event[i]),
            ("jet", t.index[i]),
            ("pT [GeV]", f"{t.pt[i]:.1f}"),
            ("eta", f"{t.eta[i]:+.3f}"),
            ("phi", f"{t.phi[i]:+.3f}"),
            ("seed (ieta, iphi)", f"({t.seed_row[i]}, {t.seed_col[i]})"),
        ]
        rows += [(f"score: {name}", f"{s[i]:.4f}") for name, s in sorted(t.scores.items())]
        cells = "".join(
            f"<tr><td>{html.escape(str(k))}</td><td><b>{html.escape(str(v))}</b></td></tr>"
            for k, v in rows
        )
        return f"<table class='e2e-jet-info'>{cells}</table>"

    def _render_histogram(self) -> None:
        self.histogram.value = figure_png(self._histogram_figure())

    def _histogram_figure(self) -> Any:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        fig = Figure(figsize=(6.5, 2.6), dpi=100)
        FigureCanvasAgg(fig)
        ax = fig.add_axes((0.1, 0.2, 0.62, 0.68))
        tagger = None if self.tagger.disabled else str(self.tagger.value)
        if tagger is None:
            ax.text(
                0.5, 0.5, "no tagger scores given", ha="center", va="center", transform=ax.transAxes
            )
            return fig
        edges = np.linspace(0, 1, 51)
        source = "jets in this display"
        per_label: dict[str, npt.NDArray[np.float64]] = {}
        h = self.score_hist
        if h is not None and tagger in list(h.axes["tagger"]):
            import hist as _hist

            sub = h[{"tagger": tagger, "dataset": sum}][
                {"score": _hist.rebin(len(h.axes["score"]) // 50)}
            ]
            edges = sub.axes["score"].edges
            per_label = {str(lab): sub[{"label": lab}].values() for lab in sub.axes["label"]}
            source = "all jets of the run"
        else:
            for lab in sorted(set(self.table.label.tolist())):
                s = self.table.scores[tagger][self.table.label == lab]
                per_label[lab] = np.histogram(s, bins=edges)[0].astype(np.float64)
        for lab, counts in sorted(per_label.items()):
            total = counts.sum()
            if total > 0:
                ax.stairs(counts / total, edges, label=f"{lab} ({total:.0f})")
        lo, hi = self.score_range.value
        ax.axvspan(lo, hi, color="0.5", alpha=0.2, lw=0)
        ax.set_xlim(0, 1)
        ax.set_xlabel(f"{tagger} score (selected range shaded)")
        ax.set_ylabel("fraction")
        ax.set_title(f"score histogram, {source}", fontsize=9)
        ax.legend(loc="center left", bbox_to_anchor=(1.02, 0.5), fontsize=8, frameon=False)
        return fig
