"""Publishing: Jinja2 LaTeX handouts (`templates/`), their build, Anki export.
"""
