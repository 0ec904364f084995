"""Histograms of scores and ROC inputs; ROC curves and AUCs computed from them."""
