"""The ``whatsapp-gateway`` command (also ``python -m whatsapp_gateway``).

run       migrate, then web + worker together (the laptop default)
web       the HTTP server (gunicorn, gthread workers)
worker    the background-job consumer (Huey)
migrate   apply database migrations
check     Django system checks (``--deploy`` for production settings)
demo      create the demo account idempotently (``--json`` for scripts)
manage    any Django management command, e.g. ``whatsapp-gateway manage createsuperuser``
simulate  act as a sandbox instance's simulated phone (scan, inbound, stop, call, …)
guard     the content policy: ``guard check "TEXT"`` and ``guard eval FILE.jsonl``
ready     exit 0 when the database and job broker answer (container health checks)
rotate-keys  re-encrypt every secret at rest with the first GATEWAY_ENCRYPTION_KEYS key
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import signal
import subprocess
import sys
import time

from whatsapp_gateway.lib.metrics_files import prune_dead_process_files
from whatsapp_gateway.messaging.guard.cli import add_parser as add_guard_parser
from whatsapp_gateway.threecx.pbx_simulator import add_parser as add_pbx_simulator_parser
from whatsapp_gateway.webhooks.listen import add_parser as add_listen_parser


def _setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "whatsapp_gateway.settings")
    import django

    django.setup()


def _commands():
    """The commands that use the database, once Django is set up."""
    _setup_django()
    from whatsapp_gateway import commands  # importable only after django.setup(): it imports models

    return commands


def _manage(*args: str) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "whatsapp_gateway.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(["whatsapp-gateway", *args])


def _web_command(host: str, port: int, workers: int, threads: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "gunicorn",
        "whatsapp_gateway.wsgi:application",
        "--bind",
        f"{host}:{port}",
        # gthread that hands a request to a thread only once headers and body are in (slow bodies cost no thread).
        "--worker-class",
        "whatsapp_gateway.web_worker.BufferingThreadWorker",
        "--workers",
        str(workers),
        "--threads",
        str(threads),
        "--timeout",
        "60",
        "--graceful-timeout",
        "20",
        # No gunicorn access log: the request middleware logs each request with its route pattern (never the raw
        # path, which can hold a callback token) and request id, in the configured LOG_FORMAT.
        "--forwarded-allow-ips",
        os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1"),
        # gunicorn's control socket defaults to one path per user (~/.gunicorn/gunicorn.ctl): a second web process
        # on the host takes it over and the first one's stop removes it. Nothing here uses it.
        "--no-control-socket",
    ]


def _worker_command() -> list[str]:
    return [sys.executable, "-m", "whatsapp_gateway", "worker"]


def cmd_web(args: argparse.Namespace) -> None:
    _prune_metrics()
    os.execv(sys.executable, _web_command(args.host, args.port, args.workers, args.threads))


def cmd_worker(args: argparse.Namespace) -> None:
    _prune_metrics()
    _serve_worker_metrics()
    extra = ["--workers", str(args.threads)] if args.threads else []
    _manage("run_huey", *extra)


def cmd_migrate(args: argparse.Namespace) -> None:
    _manage("migrate", "--no-input", *(["-v", "0"] if args.quiet else []))


def cmd_check(args: argparse.Namespace) -> None:
    _manage("check", *(["--deploy", "--fail-level", "WARNING"] if args.deploy else []))


def cmd_demo(args: argparse.Namespace) -> None:
    result = _commands().demo()
    if args.json:
        print(json.dumps(result))
        return
    print(_demo_banner(result))


def _demo_banner(result: dict) -> str:
    lines = [
        "",
        "  WhatsApp Gateway demo account",
        f"  Portal:   {result['portal_url']}",
        f"  Login:    {result['email']}",
        f"  Password: {result['password']}",
    ]
    if result.get("instance_id"):
        lines.append(
            f"  Instance: {result['instance_name']} ({result['instance_id']}, sandbox, {result['instance_state']})"
        )
    if result.get("api_key"):
        lines.append(f"  API key:  {result['api_key']}   (shown once; a new key is made each run)")
    lines.append("")
    return "\n".join(lines)


def _is_unspecified(host: str) -> bool:
    """True for a listen-on-every-interface address, which is no address a browser can open."""
    try:
        return not host or ipaddress.ip_address(host).is_unspecified
    except ValueError:
        return False


def cmd_run(args: argparse.Namespace) -> None:
    """Migrate, create the demo data, then run web + worker until Ctrl-C."""
    env = os.environ.copy()
    # Links in the banner, e-mails and the 3CX page must point at where this server listens, not the default port.
    if not env.get("GATEWAY_BASE_URL"):
        host = "127.0.0.1" if _is_unspecified(args.host) else args.host
        env["GATEWAY_BASE_URL"] = f"http://{host}:{args.port}"
    subprocess.run([sys.executable, "-m", "whatsapp_gateway", "migrate", "--quiet"], check=True, env=env)
    if not args.no_demo:
        subprocess.run([sys.executable, "-m", "whatsapp_gateway", "demo"], check=True, env=env)
    children = [
        subprocess.Popen(_web_command(args.host, args.port, args.workers, args.threads), env=env),
        subprocess.Popen(_worker_command(), env=env),
    ]
    print(f"WhatsApp Gateway is running on http://{args.host}:{args.port}  (Ctrl-C to stop)", flush=True)

    def stop(signum, frame):
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        while all(child.poll() is None for child in children):
            time.sleep(0.5)
    finally:
        stop(None, None)
        for child in children:
            try:
                child.wait(timeout=25)
            except subprocess.TimeoutExpired:
                child.kill()
    codes = [child.returncode for child in children]
    sys.exit(0 if all(code in (0, -signal.SIGTERM) for code in codes) else 1)


def cmd_manage(args: argparse.Namespace) -> None:
    _manage(*args.rest)


# --- simulate: the sandbox provider's simulated phone (instances issue) -------------------------------------------

SIMULATE_ACTIONS = [
    "scan",
    "inbound",
    "stop",
    "call",
    "missed-call",
    "group-message",
    "group-update",
    "conversation-update",
    "disconnect",
    "reconnect",
]


def cmd_simulate(args: argparse.Namespace) -> None:
    """Run one sandbox simulation through the provider callback route and print what happened."""
    _commands().simulate(args)


def add_simulate_parser(sub) -> None:
    p = sub.add_parser("simulate", help="act as a sandbox instance's simulated phone")
    p.add_argument("action", choices=SIMULATE_ACTIONS)
    p.add_argument("instance", help="instance id (inst_…) or name")
    p.add_argument("--account", help="account id (acc_…) or name, when several accounts use the instance name")
    p.add_argument("--from", dest="from_phone", help="sender / caller number (default +12025550142)")
    p.add_argument("--name", help="sender's profile name")
    p.add_argument("--text", help="message text")
    p.add_argument("--video", action="store_true", help="a video call")
    p.add_argument("--group", default="Sandbox team", help="group name")
    p.add_argument(
        "--action",
        dest="group_action",
        default="join",
        choices=["created", "updated", "join", "leave", "promote", "demote"],
        help="group change",
    )
    p.add_argument("--participant", help="member number for a group change")
    p.add_argument("--phone", help="contact number for a conversation change")
    p.add_argument("--unread", type=int, default=1, help="unread count for a conversation change")
    p.add_argument("--archived", action="store_true", help="the conversation was archived")
    p.set_defaults(func=cmd_simulate)


# --- Operations: key rotation, metrics files (operations app) -----------------------------------------------------
def cmd_rotate_keys(args: argparse.Namespace) -> None:
    _commands().rotate_keys()


def cmd_ready(args: argparse.Namespace) -> None:
    """Exit 0 when the database and the job broker answer (the worker's health check; /readyz for the web)."""
    _commands().ready()


def _prune_metrics() -> None:
    """Drop the metric files of processes that no longer run, before this process starts writing its own."""
    _setup_django()
    prune_dead_process_files()


def _serve_worker_metrics() -> None:
    """With WORKER_METRICS_PORT set, serve this host's process metrics (e.g. one worker container) on that port."""
    port = os.environ.get("WORKER_METRICS_PORT")
    if port:
        _commands().serve_worker_metrics(host=os.environ.get("WORKER_METRICS_HOST", "0.0.0.0"), port=int(port))  # noqa: S104


# --- Webhooks: a local receiver that prints and verifies deliveries (webhooks app) ----------------------------------
def add_webhook_listen_parser(sub) -> None:
    add_listen_parser(sub)


# --- 3CX: a fake 3CX for trying the integration locally (threecx app) ---------------------------------------------
def add_fake_3cx_parser(sub) -> None:
    add_pbx_simulator_parser(sub)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="whatsapp-gateway", description="WhatsApp Gateway")
    sub = parser.add_subparsers(dest="command", required=True)

    def add_server_args(p: argparse.ArgumentParser) -> None:
        p.add_argument("--host", default=os.environ.get("GATEWAY_HOST", "127.0.0.1"))
        p.add_argument("--port", type=int, default=int(os.environ.get("GATEWAY_PORT", "8000")))
        p.add_argument("--workers", type=int, default=int(os.environ.get("WEB_CONCURRENCY", "2")))
        p.add_argument("--threads", type=int, default=int(os.environ.get("WEB_THREADS", "4")))

    p = sub.add_parser("run", help="migrate, then start web + worker together")
    add_server_args(p)
    p.add_argument("--no-demo", action="store_true", help="do not create the demo account")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("web", help="start the HTTP server")
    add_server_args(p)
    p.set_defaults(func=cmd_web)

    p = sub.add_parser("worker", help="start the background-job consumer")
    p.add_argument("--threads", type=int, default=0, help="worker threads (default: GATEWAY_WORKER_THREADS)")
    p.set_defaults(func=cmd_worker)

    p = sub.add_parser("migrate", help="apply database migrations")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_migrate)

    p = sub.add_parser("check", help="run system checks")
    p.add_argument("--deploy", action="store_true", help="also run the production deployment checks")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("demo", help="create the demo account (idempotent)")
    p.add_argument("--json", action="store_true", help="print what was created as one JSON object")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("ready", help="exit 0 when the database and the job broker answer (health checks)")
    p.set_defaults(func=cmd_ready)

    p = sub.add_parser("rotate-keys", help="re-encrypt every secret at rest with the first encryption key")
    p.set_defaults(func=cmd_rotate_keys)

    p = sub.add_parser("manage", help="run a Django management command")
    p.add_argument("rest", nargs=argparse.REMAINDER)
    p.set_defaults(func=cmd_manage)

    add_simulate_parser(sub)
    add_webhook_listen_parser(sub)
    add_fake_3cx_parser(sub)
    add_guard_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    status = args.func(args)
    if isinstance(status, int) and status:
        sys.exit(status)


if __name__ == "__main__":
    main()
