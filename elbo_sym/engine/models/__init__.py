"""Model families behind one interface (`base.Model`); `model = "..."` picks one from the registry.
"""
