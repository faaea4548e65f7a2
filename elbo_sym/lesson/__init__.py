"""The lesson's content: worked examples, exercise sheets, the tight-case drill, self-check and
flashcards (data files in `data/`). Built on the engine.
"""
