"""From a run's histograms to figures: binary ROC curves and AUCs, one-vs-rest AUCs per
class of multi-class taggers, response and resolution of regression taggers, the summary."""

from __future__ import annotations

# Nothing is re-exported: import the module that holds the idea (hists.roc, hists.summary,
# hists.report, ...), so that importing one does not load matplotlib or the run machinery.
__all__: list[str] = []
