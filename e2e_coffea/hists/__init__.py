"""From a run's histograms to figures: binary ROC curves and AUCs, one-vs-rest AUCs per
class of multi-class taggers, response and resolution of regression taggers, the summary."""
