"""``PerformanceDashboard``: ROC, scores, efficiency vs pT, response, mean images, throughput.

Every model kind of the main job is shown: binary taggers by their ROC, multi-class ones
by a one-vs-rest ROC per class and a score panel per class probability, regression ones
by their value, response and resolution against true pT, next to the classical baseline.

Static: give it a run's output (or ``from_run(DIR)``). Live: give it nothing, then feed
it chunk outputs with :meth:`~PerformanceDashboard.update` (or let :meth:`~PerformanceDashboard.watch` take them from Dask futures as
they complete): the outputs are merged exactly as coffea merges them, the progress bar
advances and the ROC and score plots redraw, so the last picture is the picture of the
merged output.
"""

from __future__ import annotations

import copy
import os
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ..exceptions import BadInputError
from ..hists.roc import RocCurve
from ..hists.summary import physical_for_tagger
from ..inference.shipped import TaggerSpec, resolve_tagger
from ..io.jsonfiles import read_json
from ..processor.serialize import load_output
from ._widgets import message_png, widgets
from .composite import figure_png
from .plots import (
    check_output,
    efficiency_figure,
    mean_images_figure,
    multiclass_taggers,
    roc_figure,
    rocs_of,
    score_figure,
    throughput_figure,
)
from .response_plots import regression_taggers, response_figure

__all__ = ["PerformanceDashboard"]


def _classes(
    classes: Mapping[str, Sequence[str]] | None, taggers: Iterable[str | TaggerSpec] | None
) -> dict[str, tuple[str, ...]]:
    out = {str(k): tuple(v) for k, v in (classes or {}).items()}
    for t in taggers or ():
        spec = t if isinstance(t, TaggerSpec) else resolve_tagger(t)
        out.setdefault(spec.name, tuple(spec.contract.class_names))
    return out


class PerformanceDashboard:
    """Tabs of performance plots for one run; live when fed chunk outputs.

    ``classes``: ``{tagger: (negative, positive)}`` class names (the contract's); or
    ``taggers``: shipped names, paths or specs to read them from. Shipped taggers found
    in the output are resolved automatically; multi-class taggers default to the class
    order of their histogram, regression taggers need no classes. ``total_chunks`` sizes the progress bar.
    ``min_redraw_s`` throttles live redraws; :meth:`finish` always redraws.
    """

    def __init__(
        self,
        output: Mapping[str, Any] | None = None,
        *,
        classes: Mapping[str, Sequence[str]] | None = None,
        taggers: Iterable[str | TaggerSpec] | None = None,
        total_chunks: int | None = None,
        wall_time: float | None = None,
        min_redraw_s: float = 0.5,
    ) -> None:
        w = widgets()
        self.classes = _classes(classes, taggers)
        self.output: dict[str, Any] | None = None
        self.wall_time = wall_time
        self.min_redraw_s = min_redraw_s
        self.n_updates = 0
        self._last_draw = float("-inf")
        self._lock = threading.Lock()
        self.progress = w.IntProgress(
            value=0, min=0, max=max(total_chunks or 1, 1), description="chunks", bar_style="info"
        )
        self.status = w.HTML("<i>waiting for the first chunk</i>")
        names = sorted(self.classes)
        self.tagger = w.Dropdown(
            options=names or ["(none)"], description="tagger", disabled=not names
        )
        self.working_point = w.FloatSlider(
            value=0.5, min=0.0, max=1.0, step=0.02, description="score cut", continuous_update=False
        )
        self.roc_image = w.Image(format="png")
        self.score_image = w.Image(format="png")
        self.efficiency_image = w.Image(format="png")
        self.response_image = w.Image(format="png")
        self.mean_image = w.Image(format="png")
        self.throughput_image = w.Image(format="png")
        for img, cls in (
            (self.roc_image, "roc"),
            (self.score_image, "scores"),
            (self.efficiency_image, "efficiency"),
            (self.response_image, "response"),
            (self.mean_image, "mean-images"),
            (self.throughput_image, "throughput"),
        ):
            img.add_class(f"e2e-{cls}")
            img.value = message_png("waiting for the first chunk")
        self.tabs = w.Tab(
            children=[
                self.roc_image,
                self.score_image,
                w.VBox([self.working_point, self.efficiency_image]),
                self.response_image,
                self.mean_image,
                self.throughput_image,
            ]
        )
        self.tabs.titles = (
            "ROC", "scores", "efficiency vs pT", "response", "mean images", "throughput",
        )  # fmt: skip
        self.tagger.observe(lambda _: self.redraw(), names="value")
        self.working_point.observe(lambda _: self._draw_efficiency(), names="value")
        self.widget = w.VBox([w.HBox([self.progress, self.status]), self.tagger, self.tabs])
        if output is not None:
            check_output(output)
            self.output = dict(output)
            self._learn_taggers()
            self.progress.value = self.progress.max = max(len(self.output.get("chunks", {})), 1)
            self.progress.bar_style = "success"
            self.redraw()

    @classmethod
    def from_run(
        cls, out_dir: str | os.PathLike[str], *, allow_pickle: bool = False, **kwargs: Any
    ) -> PerformanceDashboard:
        """From ``e2e-coffea run --out DIR``: output.zip, plus classes and wall time from
        summary.json. ``allow_pickle=True`` also reads an older run's ``output.pkl``; only
        for a file you trust, since unpickling runs any code the file holds."""
        d = Path(out_dir)
        output = load_output(d, allow_pickle=allow_pickle)
        classes: dict[str, Sequence[str]] = {}
        wall = None
        if (d / "summary.json").is_file():
            summary = read_json(d / "summary.json", what="run summary")
            if not isinstance(summary, dict):
                msg = f"run summary {d / 'summary.json'} is not a JSON object"
                raise BadInputError(msg)
            taggers = summary.get("taggers")
            classes = {
                k: v["classes"]
                for k, v in (taggers.items() if isinstance(taggers, dict) else ())
                if isinstance(v, dict) and v.get("classes")
            }
            throughput = summary.get("throughput")
            wall = throughput.get("wall_s") if isinstance(throughput, dict) else None
        classes.update(kwargs.pop("classes", None) or {})
        return cls(output, classes=classes, wall_time=kwargs.pop("wall_time", wall), **kwargs)

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)

    # -- data --------------------------------------------------------------------------
    def _learn_taggers(self) -> None:
        """Class names for every tagger in the output: given, read from a shipped tagger, the
        class axis of a multi-class tagger, none for a regression tagger."""
        if self.output is None:
            return
        hists = self.output["hists"]
        for name in multiclass_taggers(self.output):
            h = hists["class_score"][{"tagger": name}]
            self.classes.setdefault(name, tuple(h.axes["class"]))
        for name in regression_taggers(self.output):
            self.classes.setdefault(name, ())
        unknown = []
        for name in hists["score"].axes["tagger"]:
            if name in self.classes:
                continue
            try:
                self.classes[name] = tuple(resolve_tagger(name).contract.class_names)
            except BadInputError:
                unknown.append(name)
        if unknown:
            msg = (
                f"no class names for tagger(s) {unknown}: pass classes={{'{unknown[0]}': ('qcd', 'tau')}} "
                f"or taggers=[path or spec] so the dashboard knows signal from background"
            )
            raise BadInputError(msg)
        names = sorted(self.classes)
        if list(self.tagger.options) != names:
            current = self.tagger.value
            self.tagger.options = names
            self.tagger.value = current if current in names else names[0]
            self.tagger.disabled = False

    def update(self, partial: Mapping[str, Any], *, redraw: bool | None = None) -> None:
        """Merge one chunk's output (as coffea does) and redraw the live plots if due."""
        from coffea.processor import accumulate

        check_output(partial)
        with self._lock:
            if self.output is None:
                self.output = copy.deepcopy(dict(partial))
            else:
                self.output = accumulate([partial], self.output)
            self.n_updates += 1
            self._learn_taggers()
            self.progress.max = max(self.progress.max, self.n_updates)
            self.progress.value = self.n_updates
            due = time.monotonic() - self._last_draw >= self.min_redraw_s
            if redraw or (redraw is None and due):
                self._draw_live()

    def finish(self) -> None:
        """Redraw every panel from the merged output: the end-of-run picture."""
        self.progress.bar_style = "success"
        self.redraw()

    def rocs(self) -> dict[str, RocCurve]:
        """ROC curves of the output so far: per binary tagger with both classes present, per
        class (``"tagger: class"``, one vs rest) of each multi-class tagger."""
        return {} if self.output is None else rocs_of(self.output, self.classes)

    # -- live --------------------------------------------------------------------------
    def watch(self, futures: Sequence[Any], *, background: bool = False) -> Any:
        """Feed the results of Dask futures (one chunk output each) as they complete.

        Blocks and returns the merged output; with ``background=True`` returns the
        thread doing it, so the notebook stays responsive. A failed chunk stops the watch
        and re-raises its error after the status line says which chunk count was reached.
        """
        if background:
            t = threading.Thread(target=self._watch, args=(list(futures),), daemon=True)
            t.start()
            return t
        return self._watch(list(futures))

    def _watch(self, futures: list[Any]) -> Any:
        from distributed import as_completed

        start = time.perf_counter()
        self.progress.max = max(len(futures) + self.n_updates, 1)
        self.progress.bar_style = "info"
        try:
            for _future, result in as_completed(futures, with_results=True):
                self.update(result)
        except Exception as err:
            self.progress.bar_style = "danger"
            self.status.value = (
                f"<b>failed</b> after {self.n_updates} chunks: {type(err).__name__}: {err}"
            )
            raise
        self.wall_time = time.perf_counter() - start
        self.finish()
        return self.output

    # -- drawing ---------------------------------------------------------------------
    def _status_html(self) -> str:
        if self.output is None:
            return "<i>waiting for the first chunk</i>"
        rocs = self.rocs()
        aucs = ", ".join(
            f"{k} AUC {r.auc:.3f}±{r.auc_err:.3f}{self._headline(k)}" for k, r in rocs.items()
        )
        return f"{self.progress.value}/{self.progress.max} chunks merged. {aucs}"

    def _headline(self, name: str) -> str:
        """`` (headline 0.937, unweighted 0.980)`` for a binary tagger: background at its
        cross-section, signal matched to its pT; empty where not computable yet."""
        if self.output is None or name not in self.classes or len(self.classes[name]) != 2:
            return ""
        try:
            phys = physical_for_tagger(self.output["hists"], name, self.classes[name])
        except BadInputError:
            return ""
        head, unw = phys.get("auc_headline"), phys.get("auc_unweighted")
        if head is None or unw is None:
            return ""
        return f" (headline {head:.3f}, unweighted {unw:.3f})"

    def _draw_live(self) -> None:
        if self.output is None:
            return
        self.roc_image.value = figure_png(roc_figure(self.output, self.classes))
        if not self.tagger.disabled:
            self.score_image.value = figure_png(score_figure(self.output, str(self.tagger.value)))
        self.status.value = self._status_html()
        self._last_draw = time.monotonic()

    def _draw_efficiency(self) -> None:
        if self.output is None or self.tagger.disabled:
            return
        t = str(self.tagger.value)
        self.efficiency_image.value = figure_png(
            efficiency_figure(self.output, t, self.classes[t], float(self.working_point.value))
        )

    def redraw(self) -> None:
        """Redraw every panel now."""
        if self.output is None:
            return
        self._draw_live()
        self._draw_efficiency()
        if not self.tagger.disabled:
            self.mean_image.value = figure_png(
                mean_images_figure(self.output, str(self.tagger.value))
            )
            self.response_image.value = figure_png(
                response_figure(self.output, str(self.tagger.value))
            )
        self.throughput_image.value = figure_png(throughput_figure(self.output, self.wall_time))

    def roc_png(self) -> bytes:
        """PNG bytes of the ROC panel as shown now."""
        return bytes(self.roc_image.value)
