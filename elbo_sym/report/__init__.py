"""One result data model and its renderers (text, JSON, LaTeX, HTML, pytest).
"""
