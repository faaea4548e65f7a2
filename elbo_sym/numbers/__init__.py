"""Exact numbers: log-prime arithmetic (`exact`) and certified evaluation at instances (`evaluate`).
The lowest layer: imports nothing of elbo-sym but the shared leaves.
"""
