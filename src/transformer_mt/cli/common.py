"""Shared pieces of the command line."""

from __future__ import annotations

import functools
import re
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn, TypeVar

import click
from click.exceptions import NoArgsIsHelpError

from transformer_mt.errors import UserError

F = TypeVar("F", bound=Callable[..., Any])


class Commands(click.Group):
    """A click group whose usage mistakes (an unknown option, ``--beam-size abc``, a missing
    argument, a file where a directory belongs) print the same single ``error: ...`` line and
    exit with the same status 2 as every other user error, instead of click's usage block."""

    def main(self, args: Sequence[str] | None = None, *extra: Any, **options: Any) -> NoReturn:
        options["standalone_mode"] = False
        try:
            result = super().main(args, *extra, **options)
        except NoArgsIsHelpError as error:  # a bare `transformer-mt`: the help, as asked
            click.echo(error.format_message())
            sys.exit(0)
        except click.ClickException as error:
            _exit_with_error(_one_line(error))
        except click.Abort:  # Ctrl-C or end of input at a prompt
            click.echo("interrupted", err=True)
            sys.exit(130)
        sys.exit(result if isinstance(result, int) else 0)  # ctx.exit(code), e.g. after --help


def _one_line(error: click.ClickException) -> str:
    message = " ".join(error.format_message().split())
    context = getattr(error, "ctx", None)
    if isinstance(error, click.UsageError) and context is not None:
        message += f" (see '{context.command_path} --help')"
    return message


def _exit_with_error(message: str) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(UserError.exit_code)


def _out_of_memory(error: BaseException) -> bool:
    """An allocation failure: ``MemoryError``, torch's ``OutOfMemoryError`` (CUDA) or its CPU
    allocator's ``RuntimeError`` ("can't allocate memory")."""
    return (
        isinstance(error, MemoryError)
        or type(error).__name__ == "OutOfMemoryError"
        or "can't allocate memory" in str(error)
    )


def _requested(error: BaseException) -> str:
    found = re.search(r"tried to allocate (\d+) bytes", str(error))
    return f" (tried to allocate {int(found.group(1)) / 1e9:.1f} GB)" if found else ""


def user_errors(command: F) -> F:
    """Turn :class:`UserError` (and ValueError from option validation) into ``error: ...``."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except UserError as error:
            _exit_with_error(str(error))
        except (MemoryError, RuntimeError) as error:
            if not _out_of_memory(error):
                raise
            _exit_with_error(
                f"out of memory{_requested(error)}; a smaller --batch-size, --max-tokens, "
                "--beam-size or model needs less"
            )
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(130)

    return wrapper  # type: ignore[return-value]  # functools.wraps keeps the signature
