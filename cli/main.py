"""The ``disputeflow`` command line: run the stack or a part of it, and administer it."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from config.settings import get_settings
from domain.billing_csv_columns import KINDS as CSV_KINDS


def _session() -> Any:
    from db.session import session_scope

    return session_scope(get_settings().database_url)


def cmd_up(_: argparse.Namespace) -> int:
    from cli.stack import run_up

    return run_up(get_settings())


def cmd_worker(_: argparse.Namespace) -> int:
    import worker

    worker.main()
    return 0


def cmd_api(args: argparse.Namespace) -> int:
    import uvicorn

    from api.app import create_app
    from config import logs
    from config.event_loop import UVICORN_HTTP, UVICORN_LOOP
    from config.heap import freeze_startup_objects

    settings = get_settings()
    logs.configure(settings.disputeflow_log_format)
    app = create_app(settings)
    freeze_startup_objects()
    uvicorn.run(app, host=args.host, port=settings.disputeflow_api_port,
                log_level="warning", proxy_headers=True, loop=UVICORN_LOOP, http=UVICORN_HTTP)
    return 0


def cmd_migrate(_: argparse.Namespace) -> int:
    from db.migrate import upgrade

    upgrade(get_settings().database_url)
    print("Database is at the latest migration.")
    return 0


def cmd_users_add(args: argparse.Namespace) -> int:
    from db import users

    with _session() as s:
        if users.email_taken(s, args.email):
            print(f"A user with email {args.email} exists already.", file=sys.stderr)
            return 1
        user, token = users.create_user(s, name=args.name, email=args.email, roles=args.role,
                                        slack_user_id=args.slack_id, created_by="cli",
                                        token_lifetime=get_settings().token_lifetime)
    print(f"Created {user.id} ({', '.join(user.roles)}). Token (shown once): {token}")
    return 0


def cmd_users_list(_: argparse.Namespace) -> int:
    from sqlalchemy import select

    from db.models import User

    with _session() as s:
        for u in s.scalars(select(User).order_by(User.created_at)):
            print(f"{u.id}\t{u.name}\t{u.email}\t{','.join(u.roles)}\t{u.slack_user_id or ''}")
    return 0


def _load_file(path: str) -> Any:
    text = Path(path).read_text()
    if path.endswith((".yaml", ".yml")):
        import yaml

        return yaml.safe_load(text)
    return json.loads(text)


def cmd_policy_apply(args: argparse.Namespace) -> int:
    from approvals.policy_problems import PolicyError
    from db import policies

    try:
        with _session() as s:
            row = policies.apply(s, document=_load_file(args.file), actor="cli")
    except PolicyError as exc:
        print(f"Policy refused:\n{exc}", file=sys.stderr)
        return 1
    print(f"Policy version {row.version} is now in force.")
    return 0


def cmd_policy_show(_: argparse.Namespace) -> int:
    from db import policies

    with _session() as s:
        row = policies.current(s)
        print(json.dumps({"version": row.version, "document": row.document}, indent=2))
    return 0


def cmd_policy_backtest(args: argparse.Namespace) -> int:
    from approvals.policy_problems import PolicyError
    from db.policy_backtest import run_backtest

    start, end = _when(args.start), _when(args.end)
    if end <= start:
        print("--to must be after --from.", file=sys.stderr)
        return 2
    try:
        with _session() as s:
            result = run_backtest(s, document=_load_file(args.file), start=start, end=end)
    except PolicyError as exc:
        print(f"Policy refused:\n{exc}", file=sys.stderr)
        return 1
    if args.format == "json":
        print(result.model_dump_json(indent=2))
        return 0
    for memo in result.memos:
        if memo.change != "same" or memo.new_sod_conflicts:
            print(f"{memo.number} ({memo.amount_base} {result.base_currency}): "
                  f"{', '.join(memo.chain_then) or 'auto-approved'} -> "
                  f"{', '.join(memo.chain_proposed) or 'auto-approved'}")
            for conflict in memo.new_sod_conflicts:
                print(f"  conflict: {conflict}")
    for skipped in result.skipped:
        print(f"{skipped.number} skipped: {skipped.reason}")
    t = result.summary
    print(f"{t.memos} credit memos: {t.same} unchanged, {t.more_levels} more levels, "
          f"{t.fewer_levels} fewer, {t.different_roles} other roles, {t.new_sod_conflicts} "
          "new segregation-of-duties conflicts.")
    for load in t.load:
        print(f"  {load.role}: {load.recorded} -> {load.proposed} levels ({load.change:+d})")
    return 0


def _import(document: Any, actor: str) -> int:
    from pydantic import ValidationError

    from db import billing
    from domain.billing_doc import BillingDocument

    try:
        doc = BillingDocument.model_validate(document)
        with _session() as s:
            changed = billing.import_document(s, doc, actor=actor)
    except (ValidationError, billing.ImportProblem) as exc:
        print(f"Import refused; nothing was written:\n{exc}", file=sys.stderr)
        return 1
    print("Imported: " + ", ".join(f"{v} {k}" for k, v in changed.items()))
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    is_csv = args.file.lower().endswith(".csv")
    if is_csv and not args.kind:
        print("A .csv file holds one kind of record: name it with --kind (accounts, "
              "invoices, contracts, delivery or fx).", file=sys.stderr)
        return 2
    if args.kind and not is_csv:
        print("--kind is for .csv files; a JSON document names its kinds itself.",
              file=sys.stderr)
        return 2
    if is_csv:
        from cli.billing_import import import_csv_file

        return import_csv_file(Path(args.file), args.kind)
    return _import(_load_file(args.file), "cli")


def cmd_load_demo(args: argparse.Namespace) -> int:
    import os
    from pathlib import Path

    from cli.demo import DEMO_USERS, document
    from db import users

    code = _import(document(), "load-demo")
    if code or args.no_users:
        return code
    exports = []
    with _session() as s:
        for name, email, roles, variable in DEMO_USERS:
            if users.email_taken(s, email):
                print(f"  {email}: exists already (its token is in the file written when it "
                      "was created)")
                continue
            _, token = users.create_user(s, name=name, email=email, roles=roles,
                                         slack_user_id=None, created_by="load-demo")
            print(f"  {name:<16} {','.join(roles):<24} ${variable}")
            exports.append(f"export {variable}={token}  # {name}, {', '.join(roles)}")
    if exports:
        path = Path(args.tokens_file)
        path.parent.mkdir(parents=True, exist_ok=True)
        with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600), "a") as f:
            f.write("\n".join(exports) + "\n")
        print(f"\nTokens written to {path} (readable by you only). In your shell:\n"
              f"  source {path}\n" + "\n".join(f"  {line.split('  #')[0]}" for line in exports))
    return 0


def cmd_schedules_apply(_: argparse.Namespace) -> int:
    import asyncio

    from cli.schedules import apply_schedules
    from config.temporal import connect
    from db import report_window

    settings = get_settings()
    with _session() as s:
        tz = report_window.policy_timezone(s)

    async def run() -> str:
        return await apply_schedules(await connect(settings), settings, tz)

    print(f"Daily digest schedule {asyncio.run(run())} (08:00 {tz}).")
    # The Temporal SDK's native threads can abort Python's own teardown ("Fatal Python
    # error: PyGILState_Release", temporalio/sdk-python#300), which `up` would print on
    # every start; everything is done and written, so skip that teardown.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def cmd_replay_check(_: argparse.Namespace) -> int:
    import asyncio

    from cli.replay_check import check
    from config.temporal import connect
    from workflows.registry import WORKFLOWS

    async def run() -> int:
        outcome = await check(await connect(get_settings()), WORKFLOWS)
        for dispute_id, why in sorted(outcome.broken.items()):
            print(f"{dispute_id}: would break: {why}")
        print(f"{outcome.replayed} open disputes replayed against this build; "
              f"{len(outcome.broken)} would break.")
        return 1 if outcome.broken else 0

    return asyncio.run(run())


def cmd_audit_verify(_: argparse.Namespace) -> int:
    from db import audit

    with _session() as s:
        result = audit.verify(s)
    if result.ok:
        print(f"Audit chain intact: {result.events} events verified.")
        return 0
    print(f"Audit chain BROKEN at event {result.first_bad_event}: {result.problem} "
          f"({result.events} events read).", file=sys.stderr)
    return 1


def _when(text: str | None) -> Any:
    from datetime import UTC, datetime

    if text is None:
        return None
    value = datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def cmd_audit_export(args: argparse.Namespace) -> int:
    from db import approval_chains

    out = open(args.output, "w", newline="") if args.output else sys.stdout  # noqa: SIM115
    try:
        with _session() as s:
            for chunk in approval_chains.export(s, start=_when(args.start),
                                                end=_when(args.end), format=args.format):
                out.write(chunk)
    finally:
        if args.output:
            out.close()
    return 0


def cmd_audit_control_test(args: argparse.Namespace) -> int:
    from db.control_test import run_control_test

    with _session() as s:
        result = run_control_test(s, start=_when(args.start), end=_when(args.end))
    for exc in result.exceptions:
        print(f"EXCEPTION {exc.credit_memo} ({exc.dispute_id}) {exc.check}: {exc.message}")
    print(f"{result.memos_checked} credit memos checked, {len(result.exceptions)} exceptions.")
    return 0 if result.ok else 1


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="disputeflow", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("up", help="run the embedded stack in the foreground").set_defaults(f=cmd_up)
    sub.add_parser("worker", help="run a Temporal worker").set_defaults(f=cmd_worker)
    api = sub.add_parser("api", help="run the HTTP API")
    api.add_argument("--host", default="127.0.0.1")
    api.set_defaults(f=cmd_api)
    sub.add_parser("migrate", help="apply database migrations").set_defaults(f=cmd_migrate)

    users = sub.add_parser("users", help="manage users").add_subparsers(dest="sub", required=True)
    add = users.add_parser("add", help="create a user and print its token")
    add.add_argument("name")
    add.add_argument("--email", required=True)
    add.add_argument("--role", action="append", required=True)
    add.add_argument("--slack-id")
    add.set_defaults(f=cmd_users_add)
    users.add_parser("list").set_defaults(f=cmd_users_list)

    pol = sub.add_parser("policy", help="approval policy").add_subparsers(dest="sub",
                                                                           required=True)
    apply = pol.add_parser("apply", help="apply a policy file (YAML or JSON) as a new version")
    apply.add_argument("file")
    apply.set_defaults(f=cmd_policy_apply)
    pol.add_parser("show").set_defaults(f=cmd_policy_show)
    bt = pol.add_parser("backtest", help="what a policy file would have done to the credit "
                        "memos created in a past window (changes nothing)")
    bt.add_argument("file")
    bt.add_argument("--from", dest="start", required=True, help="ISO date/time, inclusive")
    bt.add_argument("--to", dest="end", required=True, help="ISO date/time, exclusive")
    bt.add_argument("--format", choices=["text", "json"], default="text")
    bt.set_defaults(f=cmd_policy_backtest)

    imp = sub.add_parser("import", help="import a billing-data JSON document, or one CSV "
                         "file of one kind (--kind)")
    imp.add_argument("file")
    imp.add_argument("--kind", choices=CSV_KINDS,
                     help="what the rows of a .csv file are (required for .csv)")
    imp.set_defaults(f=cmd_import)
    demo = sub.add_parser("load-demo", help="load the demo billing data and demo users")
    demo.add_argument("--no-users", action="store_true")
    demo.add_argument("--tokens-file", default=".disputeflow/demo-tokens.env",
                      help="where the demo users' tokens are written, as shell exports")
    demo.set_defaults(f=cmd_load_demo)

    sch = sub.add_parser("schedules", help="Temporal schedules").add_subparsers(
        dest="sub", required=True)
    sch.add_parser("apply", help="create or update the daily digest schedule").set_defaults(
        f=cmd_schedules_apply)

    sub.add_parser("replay-check", help="replay every open dispute against this build's "
                   "workflow code; exit 1 if one would break").set_defaults(f=cmd_replay_check)

    aud = sub.add_parser("audit", help="audit trail").add_subparsers(dest="sub", required=True)
    aud.add_parser("verify", help="verify the hash chain; exit 1 if broken").set_defaults(
        f=cmd_audit_verify)
    exp = aud.add_parser("export", help="approval chains, one row per level (CSV or JSON)")
    exp.add_argument("--from", dest="start", help="ISO date/time, inclusive")
    exp.add_argument("--to", dest="end", help="ISO date/time, exclusive")
    exp.add_argument("--format", choices=["csv", "json"], default="csv")
    exp.add_argument("--output", "-o", help="file to write (default: standard output)")
    exp.set_defaults(f=cmd_audit_export)
    ct = aud.add_parser("control-test", help="re-check every credit memo against its policy; "
                        "exit 1 on exceptions")
    ct.add_argument("--from", dest="start")
    ct.add_argument("--to", dest="end")
    ct.set_defaults(f=cmd_audit_control_test)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.f(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
