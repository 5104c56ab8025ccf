"""What every `mlconnector` command prints: results for people (or JSON with `--json`), and
errors as one sentence that says what to do.

Exit codes, the same for every command:

- 0: done;
- 1 (`EXIT_FAILED`): the system failed while doing it or is not healthy (a service down, a
  server error), or a dry run found the record would be refused;
- 2 (`EXIT_BAD_INPUT`): nothing was done, because of something the person can change: a bad
  argument or file, a name that does not exist or already does, no running system to talk to.
  The message says what to do. Click's own usage errors (an unknown option) exit 2 as well.

A command module uses it like this::

    @app.command()
    def retry(name: str, json_output: JsonFlag = False) -> None:
        if not name:
            fail("give the connection's name, e.g. `mlconnector retry acme`.")
        result = ...
        if json_output:
            print_json(result)
        else:
            typer.echo(f"Retried {plural(result['count'], 'record')}.")
"""

from __future__ import annotations

import json
from typing import Annotated, NoReturn

import typer

EXIT_FAILED = 1
EXIT_BAD_INPUT = 2

JsonFlag = Annotated[
    bool, typer.Option("--json", help="print the result as JSON, for scripts", show_default=False)
]


def fail(message: str, code: int = EXIT_BAD_INPUT) -> NoReturn:
    """Print `Error: <message>` on stderr and exit with `code` (2: the person can fix it).

    `message` is one sentence for the office manager: what happened and what to do, with no
    raw JSON, traceback or library link.
    """
    typer.echo(f"Error: {message}", err=True)
    raise typer.Exit(code)


def print_json(data: object) -> None:
    """`data` as indented JSON on stdout (dates and decimals as strings)."""
    typer.echo(json.dumps(data, indent=2, default=str))


def plural(count: int, singular: str, plural_form: str | None = None) -> str:
    """`1 record`, `2 records`, `0 records`; `plural_form` for irregular words."""
    word = singular if count == 1 else (plural_form or f"{singular}s")
    return f"{count} {word}"


def with_article(word: str) -> str:
    """`an invoice`, `a payment`, `a bill`: the indefinite article by the first letter."""
    return f"{'an' if word[:1].lower() in 'aeiou' else 'a'} {word}"
