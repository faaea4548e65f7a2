"""Authoring tools: `new`, `explain`, repair suggestions, the result cache, the pytest plugin
and the testing API.
"""
