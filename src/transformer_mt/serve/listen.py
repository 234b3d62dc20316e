"""Checks, before the model loads, that the server can listen where it is asked to.

uvicorn finds a port in use only after start-up and answers with its own log lines and exit
status 3; ``transformer-mt serve`` checks first and says in one line what to change.
"""

from __future__ import annotations

import errno
import socket
from typing import Any

from transformer_mt.errors import UserError
from transformer_mt.ranges import Range

PORT = Range(0, 65535)  # 0: any free port
# (host, port) for IPv4, (host, port, flowinfo, scope_id) for IPv6.
SocketAddress = tuple[Any, ...]


def check_listen_address(host: str, port: int) -> None:
    """Raise :class:`UserError` when ``host:port`` is not a valid address to listen on.

    Port 0 (any free port) is allowed. Each address ``host`` resolves to is bound for a moment,
    the way uvicorn (asyncio's ``create_server``) will bind it: with ``SO_REUSEADDR``, so a port
    whose connections linger in TIME_WAIT counts as free, but a listening server does not.
    """
    problem = PORT.problem(port)
    if problem is not None:
        raise UserError(f"--port {problem}")
    try:
        addresses = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as error:
        raise UserError(f"--host {host}: not a known host or address ({error.strerror})") from None
    for family, kind, protocol, _, address in addresses:
        try:
            _try_bind(family, kind, protocol, address)
        except OSError as error:
            raise UserError(describe_bind_error(error, host, port, address)) from None


def _try_bind(family: int, kind: int, protocol: int, address: SocketAddress) -> None:
    with socket.socket(family, kind, protocol) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:  # asyncio binds IPv6 sockets to IPv6 only
            probe.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        probe.bind(address)


def describe_bind_error(error: OSError, host: str, port: int, address: SocketAddress) -> str:
    """One line saying why ``address`` cannot be listened on and which option to change."""
    where = f"[{address[0]}]:{address[1]}" if ":" in address[0] else f"{address[0]}:{address[1]}"
    if error.errno == errno.EADDRINUSE:
        return (
            f"--port {port}: address {where} is already in use "
            "(another server running? choose another --port)"
        )
    if error.errno == errno.EADDRNOTAVAIL:
        return f"--host {host}: {address[0]} is not an address of this machine"
    if error.errno == errno.EACCES:
        return f"--port {port}: not allowed to listen on {where} (choose a port above 1023)"
    return f"--host {host} --port {port}: cannot listen on {where} ({error.strerror})"
