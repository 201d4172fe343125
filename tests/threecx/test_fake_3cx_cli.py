"""``whatsapp-gateway fake-3cx``: the dev tool sends exactly what stock 3CX / custom middleware send, and its server
records (and checks the signature of) what the gateway posts."""

from __future__ import annotations

import hashlib
import hmac
import json

import httpx
import pytest

from whatsapp_gateway.cli import build_parser
from whatsapp_gateway.threecx.pbx_simulator import PbxSimulator, Received, verify_native


def run_cli(*argv: str) -> int:
    args = build_parser().parse_args(["fake-3cx", *argv])
    with pytest.raises(SystemExit) as exited:
        args.func(args)
    return exited.value.code


def test_sms_posts_the_generic_sms_shape_with_the_bearer_key(capsys):
    with PbxSimulator() as gateway:  # stands in for the gateway's webhook
        gateway.respond_with(200, {"data": {"id": "msg_1", "record_type": "message", "status": "queued"}})
        code = run_cli(
            "sms", "--provider-url", gateway.url("/integrations/3cx/webhook/tcx_x"), "--api-key", "tcxk_k",
            "--from", "+13052314933", "--to", "+966512345678", "--text", "Yes, it ships today.",
        )  # fmt: skip
        request = gateway.wait_for(1)[0]
    assert code == 0
    assert request.path == "/integrations/3cx/webhook/tcx_x"
    assert request.headers["Authorization"] == "Bearer tcxk_k"
    assert request.json == {"from": "+13052314933", "to": "+966512345678", "text": "Yes, it ships today."}
    assert '"status": "queued"' in capsys.readouterr().out


def test_native_signs_and_a_refusal_exits_non_zero(capsys):
    with PbxSimulator() as gateway:
        gateway.respond_with(401, {"success": False, "error": "invalid_3cx_webhook"})
        code = run_cli(
            "native", "--provider-url", gateway.url("/hook"), "--secret", "tcxs_s", "--sign",
            "--json", '{"event_type": "test"}',
        )  # fmt: skip
        request = gateway.wait_for(1)[0]
    assert code == 1
    assert request.headers["X-WhatsApp-Gateway-3CX-Secret"] == "tcxs_s"
    timestamp = request.headers["X-WhatsApp-Gateway-Timestamp"]
    expected = hmac.new(b"tcxs_s", timestamp.encode() + b"." + request.body, hashlib.sha256).hexdigest()
    assert request.headers["X-WhatsApp-Gateway-Signature"] == f"sha256={expected}"
    assert "HTTP 401" in capsys.readouterr().out


def test_native_refuses_a_body_that_is_not_json():
    args = build_parser().parse_args(
        ["fake-3cx", "native", "--provider-url", "http://x", "--secret", "s", "--json", "{"]
    )
    with pytest.raises(SystemExit, match="not valid JSON"):
        args.func(args)


def test_the_server_answers_the_chosen_status_logs_each_request_and_checks_signatures(tmp_path, capsys):
    log = tmp_path / "pbx.jsonl"
    with PbxSimulator(echo=True) as pbx:
        pbx.default_status, pbx.secret, pbx.log_path = 503, "tcxs_s", str(log)
        body = b'{"event_type": "message.received"}'
        good = hmac.new(b"tcxs_s", b"1700000000." + body, hashlib.sha256).hexdigest()
        answer = httpx.post(
            pbx.url(),
            content=body,
            headers={"X-WhatsApp-Gateway-Timestamp": "1700000000", "X-WhatsApp-Gateway-Signature": f"sha256={good}"},
        )
        pbx.wait_for(1)
    assert answer.status_code == 503
    out = capsys.readouterr().out
    assert "--- fake 3CX received POST /sms/generic/" in out and '"signature": "valid"' in out
    line = json.loads(log.read_text().splitlines()[0])
    assert line["path"].startswith("/sms/generic/") and json.loads(line["body"]) == {"event_type": "message.received"}


def test_signature_check_says_invalid_or_unsigned():
    body = b"{}"
    forged = Received("POST", "/", {"X-WhatsApp-Gateway-Timestamp": "1", "X-WhatsApp-Gateway-Signature": "00"}, body)
    assert verify_native("tcxs_s", forged) == "INVALID"
    assert verify_native("tcxs_s", Received("POST", "/", {}, body)).startswith("unsigned")
