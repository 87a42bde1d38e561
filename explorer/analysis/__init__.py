"""One analysis per request: a spec resolved once, one meta build and one recorded pass
(explorer.analysis.analysis), the Trace assembled from it (trace), the price of real work
(pricing), real builds priced first (building), and the notebook views."""
