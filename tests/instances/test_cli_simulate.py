"""whatsapp-gateway simulate …: each action goes through the callback route and reports the outcome."""

from __future__ import annotations

import pytest

from tests.factories import make_instance
from whatsapp_gateway.cli import main
from whatsapp_gateway.instances.models import InstanceState
from whatsapp_gateway.instances.services import instance_connect
from whatsapp_gateway.providers import dispatch
from whatsapp_gateway.providers.base import CallEvent, ConversationUpdate, GroupUpdate, InboundMessage
from whatsapp_gateway.providers.models import ProviderCallback


@pytest.fixture
def recorded():
    seen: list = []
    classes = [InboundMessage, CallEvent, GroupUpdate, ConversationUpdate]

    def handler(instance, event):
        seen.append(event)

    for cls in classes:
        dispatch.register(cls, handler)
    yield seen
    for cls in classes:
        dispatch._HANDLERS[cls].remove(handler)


def test_simulate_scan_pairs_an_instance_found_by_name(owner_alice, capsys):
    instance = instance_connect(instance=make_instance(owner_alice.account, name="support-line"))

    main(["simulate", "scan", "support-line"])

    instance.refresh_from_db()
    assert instance.state == InstanceState.CONNECTED
    out = capsys.readouterr().out
    assert f"simulated scan on support-line ({instance.public_id}): callback accepted; instance is connected" in out
    assert "No real WhatsApp message" in out


@pytest.mark.parametrize(
    ("argv", "kind", "check"),
    [
        (["inbound", "--from", "+12025550142", "--text", "Where is my order?"], InboundMessage, "text"),
        (["stop", "--from", "+12025550142"], InboundMessage, "stop"),
        (["call", "--from", "+12025550142", "--video"], CallEvent, "video"),
        (["missed-call"], CallEvent, "missed"),
        (["group-message", "--text", "Hi all", "--group", "Ops"], InboundMessage, "group"),
        (["group-update", "--action", "leave", "--participant", "+12025550144"], GroupUpdate, "leave"),
        (["conversation-update", "--phone", "+12025550142", "--unread", "3"], ConversationUpdate, "unread"),
    ],
)
def test_each_contact_simulation_dispatches_its_event(owner_alice, recorded, capsys, argv, kind, check):
    instance = make_instance(owner_alice.account, name="support-line", connected=True)

    main(["simulate", argv[0], instance.public_id, *argv[1:]])

    assert len(recorded) == 1
    event = recorded[0]
    assert isinstance(event, kind)
    expected = {
        "text": lambda e: e.text == "Where is my order?" and e.sender_phone == "+12025550142",
        "stop": lambda e: e.text == "STOP",
        "video": lambda e: e.is_video and e.status == "offer",
        "missed": lambda e: e.status == "missed",
        "group": lambda e: e.is_group and e.group_name == "Ops" and e.text == "Hi all",
        "leave": lambda e: e.action == "leave" and e.participants == ("12025550144@s.whatsapp.net",),
        "unread": lambda e: e.unread_count == 3 and e.phone == "+12025550142",
    }[check]
    assert expected(event)
    assert "callback accepted" in capsys.readouterr().out


def test_simulate_disconnect_then_reconnect(owner_alice, capsys):
    instance = make_instance(owner_alice.account, name="support-line", connected=True)

    main(["simulate", "disconnect", "support-line"])
    instance.refresh_from_db()
    assert instance.state == InstanceState.DISCONNECTED

    main(["simulate", "reconnect", "support-line"])
    instance.refresh_from_db()
    assert instance.state == InstanceState.CONNECTED
    assert instance.reconnects == 1
    assert ProviderCallback.objects.filter(instance=instance, status="processed").count() == 3


def test_an_unknown_instance_or_a_refused_simulation_exits_with_an_error(owner_alice, outsider_charlie):
    make_instance(owner_alice.account, name="support-line")
    make_instance(outsider_charlie.account, name="support-line")
    with pytest.raises(SystemExit, match="no instance 'nope'"):
        main(["simulate", "scan", "nope"])
    with pytest.raises(SystemExit, match="several accounts"):
        main(["simulate", "scan", "support-line"])
    with pytest.raises(SystemExit, match="not showing a QR code"):
        main(["simulate", "scan", "support-line", "--account", owner_alice.account.public_id])
