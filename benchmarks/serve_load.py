"""Load test of ``transformer-mt serve`` on 127.0.0.1: throughput, latency, errors (a table).

    python benchmarks/serve_load.py runs/quickstart                  # 1,000 requests at 1, 8, 64
    python benchmarks/serve_load.py runs/quickstart --requests 200 --concurrency 1 16
    python benchmarks/serve_load.py runs/quickstart --url http://127.0.0.1:8000  # running server

Starts the server (``python -m transformer_mt serve``) on a free 127.0.0.1 port, unless ``--url``
names one already running on this machine, and sends ``--requests`` requests of one sentence each
(the run's test sources, in order) at each concurrency, from as many concurrent httpx clients.
Reports requests per second, p50/p99 latency, errors (any answer but 200) and the mean number of
sentences per decode (the server's /health counters), which shows the micro-batching at work.
The bound on work is the request count; nothing is ever sent beyond the loopback interface.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import httpx

from transformer_mt.commands.train import experiment_splits
from transformer_mt.config import load_config

LOOPBACK = {"127.0.0.1", "localhost", "::1"}


@dataclass(frozen=True)
class LoadResult:
    concurrency: int
    latencies_s: list[float]  # of the successful requests
    errors: int
    wall_s: float
    sentences_per_decode: float

    def row(self) -> str:
        done = len(self.latencies_s)
        p50, p99 = (percentile(self.latencies_s, q) * 1000 for q in (50, 99))
        return (
            f"| {self.concurrency} | {done + self.errors:,} | {self.errors} "
            f"| {done / self.wall_s:,.1f} | {p50:,.0f} | {p99:,.0f} "
            f"| {self.sentences_per_decode:.1f} |"
        )


def percentile(values: list[float], q: int) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


async def run_load(
    url: str, sentences: list[str], requests: int, concurrency: int, beam_size: int
) -> LoadResult:
    """``requests`` POST /translate calls, ``concurrency`` in flight at any time."""
    latencies: list[float] = []
    errors = 0
    next_index = iter(range(requests))
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=300, limits=limits) as client:
        before = (await client.get("/health")).json()

        async def worker() -> None:
            nonlocal errors
            for index in next_index:
                body = {"sentences": [sentences[index % len(sentences)]], "beam_size": beam_size}
                started = time.perf_counter()
                try:
                    response = await client.post("/translate", json=body)
                    ok = response.status_code == 200
                except httpx.HTTPError:
                    ok = False
                if ok:
                    latencies.append(time.perf_counter() - started)
                else:
                    errors += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        wall = time.perf_counter() - started
        after = (await client.get("/health")).json()
    decodes = after["batches"] - before["batches"]
    decoded = after["sentences"] - before["sentences"]
    return LoadResult(concurrency, latencies, errors, wall, decoded / max(decodes, 1))


def test_sources(run_dir: Path) -> list[str]:
    config = load_config(str(run_dir / "config.yaml"), [])
    sources = [source for source, _ in experiment_splits(config, report=lambda _: None).test]
    return [source for source in sources if source.strip()]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def started_server(run_dir: Path, threads: int | None, options: list[str]) -> Iterator[str]:
    """``transformer-mt serve RUN_DIR [OPTIONS]`` in a subprocess on a free loopback port."""
    port = free_port()
    src = Path(__file__).resolve().parents[1] / "src"
    paths = [str(src), *filter(None, [os.environ.get("PYTHONPATH")])]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}
    command = [sys.executable, "-m", "transformer_mt", "serve", str(run_dir), "--port", str(port)]
    if threads:
        command += ["--threads", str(threads)]
    server_options = command + options
    server = subprocess.Popen(server_options, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            if server.poll() is not None:
                raise SystemExit(f"error: the server exited with status {server.returncode}")
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("error: the server did not answer /health within 180 s")
            time.sleep(0.5)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run_dir", type=Path, help="Trained run (its test split is the input).")
    parser.add_argument("--requests", type=int, default=1000, help="Requests per concurrency.")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 64])
    parser.add_argument("--beam-size", type=int, default=4)
    parser.add_argument("--threads", type=int, default=None, help="Server torch threads.")
    parser.add_argument("--dtype", default="fp32", choices=["fp32", "bf16", "int8"])
    parser.add_argument("--shortlist", action="store_true", help="Serve with --shortlist.")
    parser.add_argument("--url", help="A server already running on 127.0.0.1 (not started).")
    args = parser.parse_args()
    if args.url and urlparse(args.url).hostname not in LOOPBACK:
        raise SystemExit("error: --url must be on 127.0.0.1 (this is a local load test)")
    sentences = test_sources(args.run_dir)
    print(f"{len(sentences):,} test sentences from {args.run_dir}; beam {args.beam_size}")
    options = ["--dtype", args.dtype, *(["--shortlist"] if args.shortlist else [])]
    server = started_server(args.run_dir, args.threads, options)
    with server if not args.url else _given(args.url) as url:
        asyncio.run(run_load(url, sentences, 16, 4, args.beam_size))  # warm-up
        results = []
        for concurrency in args.concurrency:
            result = asyncio.run(
                run_load(url, sentences, args.requests, concurrency, args.beam_size)
            )
            print(f"concurrency {concurrency}: {result.wall_s:.1f} s", file=sys.stderr)
            results.append(result)
    print("| concurrency | requests | errors | requests/s | p50 ms | p99 ms | sentences/decode |")
    print("|---|---|---|---|---|---|---|")
    for result in results:
        print(result.row())


@contextmanager
def _given(url: str) -> Iterator[str]:
    yield url.rstrip("/")


if __name__ == "__main__":
    main()
