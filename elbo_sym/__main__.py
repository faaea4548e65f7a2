"""`python -m elbo_sym` and the `elbo-sym` console script.

A plain `check` whose every file the result cache holds is answered before click (or
anything else) is imported: elbo_sym.authoring.cache.answer_from_cache.  Any other plain
`check` (paths and the options plain_check_line reads, outside a course folder) runs the
same code as the click command, elbo_sym.authoring.command, without importing click.
Everything else runs the full command line, elbo_sym.cli.
"""

from __future__ import annotations

import os
import sys


def _answer_warm_check(argv: list[str]) -> int | None:
    """The exit status of `check` answered from the cache, after printing what the full
    command would print (its warnings on stderr first, as it prints them); None when the cache
    cannot answer (nothing printed)."""
    from elbo_sym.authoring.cache import answer_from_cache

    answer = answer_from_cache(argv)
    if answer is None:
        return None
    text, warned, status = answer  # free of characters the full command's terminal filter escapes
    streams = ((sys.stderr, warned), (sys.stdout, text))
    for stream, written in streams:
        try:
            written.encode(stream.encoding or "utf-8", stream.errors or "strict")
        except (UnicodeError, LookupError, AttributeError):
            return None  # a stream that cannot take the text: the full command reports it as always
    for stream, written in streams:
        if not written:
            continue
        try:
            stream.write(written)  # flushed at exit, like the full command's prints
            if stream is sys.stderr:
                stream.flush()  # before stdout, as the full command's (line-buffered) stderr
        except BrokenPipeError:  # `elbo-sym check | head`: stop quietly, as the full command does
            try:
                os.dup2(os.open(os.devnull, os.O_WRONLY), stream.fileno())
            except (OSError, ValueError, AttributeError):
                pass
            return 1
    return status


def _plain_check(argv: list[str]) -> int | None:
    """`check` as elbo_sym.cli's command runs it -- the same functions, streams and error path --
    for a plain command line outside a course folder (whose project file names the files);
    None (nothing done) for any other."""
    from elbo_sym.authoring.cache import plain_check_line
    from elbo_sym.files import PROJECT_FILE, paths_or_default

    parsed = plain_check_line(argv)
    if parsed is None or (not parsed[0] and os.path.lexists(PROJECT_FILE)):
        return None
    paths, as_json, budget, total, no_cache, jobs = parsed
    from elbo_sym.authoring.command import check_command, guarded, safe_streams

    return safe_streams(lambda: guarded(lambda: check_command(paths_or_default(paths, "check"), as_json, budget,
                                                                total, no_cache, jobs)))


def main(argv: list[str] | None = None) -> int:
    """Run one command line (default: sys.argv[1:]); its exit status."""
    args = sys.argv[1:] if argv is None else list(argv)
    try:
        status = _answer_warm_check(args)
        if status is None:
            status = _plain_check(args)
    except KeyboardInterrupt:
        return 130  # as the full command line (authoring.command.EXIT_INTERRUPTED)
    if status is not None:
        return status
    from elbo_sym.cli import main as full_command_line

    return full_command_line(args)


if __name__ == "__main__":
    raise SystemExit(main())
