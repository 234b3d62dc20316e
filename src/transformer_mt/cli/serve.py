"""``transformer-mt serve``: the REST API and web page (needs the ``serve`` extra)."""

from __future__ import annotations

from pathlib import Path

import click

from transformer_mt.cli.common import user_errors
from transformer_mt.errors import UserError
from transformer_mt.ranges import AT_LEAST_ONE, NON_NEGATIVE, POSITIVE, Range


@click.command()
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, help="Port to listen on (0: any free).")
@click.option("--device", default="cpu", show_default=True, help="cpu | cuda | auto.")
@click.option(
    "--target-language",
    metavar="LANG",
    help="A multi-target model's output language (e.g. cmn_Hans; imported models).",
)
@click.option(
    "--dtype",
    type=click.Choice(["fp32", "bf16", "int8"]),
    default="fp32",
    show_default=True,
    help="Weights in fp32, bf16, or int8 (the native int8 decoder step, CPU).",
)
@click.option(
    "--shortlist",
    is_flag=True,
    help="Score only the run's vocabulary shortlist's candidates (transformer-mt shortlist).",
)
@click.option("--threads", type=int, default=None, help="Torch threads (default: all cores).")
@click.option("--max-chars", default=1000, show_default=True, help="Characters per sentence.")
@click.option("--max-sentences", default=64, show_default=True, help="Sentences per request.")
@click.option("--max-body-bytes", default=256 * 1024, show_default=True, help="Request size.")
@click.option("--max-beam-size", default=16, show_default=True, help="Widest beam allowed.")
@click.option(
    "--max-header-bytes",
    default=16 * 1024,
    show_default=True,
    help="Request line and headers (431 above).",
)
@click.option(
    "--body-timeout",
    default=10.0,
    show_default=True,
    help="Seconds a request body may take to arrive (408 after).",
)
@click.option(
    "--batch-wait-ms",
    default=5.0,
    show_default=True,
    help="How long a request waits for others to decode with.",
)
@click.option("--batch-sentences", default=64, show_default=True, help="Sentences per decode.")
@user_errors
def serve(
    run_dir: str,
    host: str,
    port: int,
    device: str,
    target_language: str | None,
    dtype: str,
    shortlist: bool,
    threads: int | None,
    max_chars: int,
    max_sentences: int,
    max_body_bytes: int,
    max_beam_size: int,
    max_header_bytes: int,
    body_timeout: float,
    batch_wait_ms: float,
    batch_sentences: int,
) -> None:
    """Serve RUN_DIR's model: POST /translate, GET /health, /docs, and a web page at /.

    Listens on 127.0.0.1 only unless --host says otherwise. Concurrent requests are decoded
    together (micro-batching). Over-limit requests get a 4xx JSON error; sources longer than
    the model's maximum length are truncated and flagged in the answer. A port in use is an
    error before the model loads.

    \b
    Example:
      transformer-mt serve runs/quickstart --port 8000
      curl -s localhost:8000/translate -H 'content-type: application/json' \\
          -d '{"sentences": ["Hello world"], "beam_size": 4}'
    """
    from transformer_mt.serve import require_serve_extra

    require_serve_extra()
    import uvicorn

    from transformer_mt.decoding.translator import Translator
    from transformer_mt.runtime import configure_cpu
    from transformer_mt.serve.app import create_app
    from transformer_mt.serve.limits import Limits
    from transformer_mt.serve.listen import check_listen_address

    try:
        limits = Limits(max_chars, max_sentences, max_body_bytes, max_beam_size, max_header_bytes)
    except ValueError as error:
        raise UserError(str(error)) from None
    for flag, value, allowed in (
        ("--batch-wait-ms", batch_wait_ms, NON_NEGATIVE),
        ("--batch-sentences", batch_sentences, AT_LEAST_ONE),
        ("--body-timeout", body_timeout, POSITIVE),
        ("--threads", threads, Range(1, optional=True)),
    ):
        problem = allowed.problem(value)
        if problem is not None:
            raise UserError(f"{flag} {problem}")
    check_listen_address(host, port)  # before the model loads: a taken port fails at once
    configure_cpu(threads)
    translator = Translator.load(
        run_dir, device=device, dtype=dtype, target_language=target_language, shortlist=shortlist
    )
    app = create_app(
        translator,
        limits=limits,
        model_name=Path(run_dir).resolve().name,
        max_wait_s=batch_wait_ms / 1000,
        max_batch_sentences=batch_sentences,
        body_timeout_s=body_timeout,
    )
    click.echo(f"serving {run_dir} on http://{host}:{port}/ (API docs at /docs)", err=True)
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level="warning",
        # h11 stops reading a head that arrives in pieces past this size; the app measures
        # one that arrives whole (serve.middleware).
        h11_max_incomplete_event_size=max_header_bytes,
    )
