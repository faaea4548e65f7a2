"""The checking engine: notation, safe parsing, the file format, model families, canonical forms,
definedness, rules, the counterexample search and verdicts. Imports only `elbo_sym.numbers` and
the shared leaves (`limits`, `budget`, `files`, `prose`).
"""
