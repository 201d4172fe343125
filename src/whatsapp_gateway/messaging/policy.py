"""The responsible-messaging numbers (docs/api.md "Responsible-messaging rules"). The guard and the public docs both read them from here."""

from __future__ import annotations

ALLOWED_PURPOSES: dict[str, str] = {
    "transactional": "Something the customer did or bought: order confirmations, receipts, delivery updates.",
    "operational": "Service notices the customer relies on: appointment reminders, outage notices, account changes.",
    "support": "Replies in a support conversation the customer started or expects.",
    "internal_team": "Messages to your own staff: shift changes, alerts, on-call pages.",
    "authentication": "One-time codes the customer asked for.",
}
DISALLOWED_PURPOSES: dict[str, str] = {
    "marketing": "Advertising products, offers or newsletters.",
    "promotion": "Discounts, coupons, sales and contests.",
    "cold_outreach": "First contact with people who never asked to hear from you.",
    "bulk_campaign": "The same message blasted to a list.",
    "political": "Campaigning, canvassing or political fundraising.",
}

# Velocity (per instance, per recipient, duplicates)
INSTANCE_PER_MINUTE = 20
INSTANCE_PER_HOUR = 300
RECIPIENT_PER_10_MINUTES = 5
RECIPIENT_PER_DAY = 20
DUPLICATE_WINDOW_SECONDS = 600

# Warm-up caps for a newly paired number: (last day inclusive, cap per day)
WARMUP_STEPS: list[tuple[int, int]] = [(2, 50), (5, 200), (10, 500)]

# Pacing: one message at a time per instance, min gap + jitter
PACING_MIN_GAP_SECONDS = 2.0
PACING_MAX_JITTER_SECONDS = 3.0

# Risk score thresholds
RISK_REVIEW_THRESHOLD = 50
RISK_BLOCK_THRESHOLD = 80

# Risk rules: (name, what it means). The score is the content policy's score plus the points of the rules that fire,
# capped at 100.
RISK_LINK_SHORTENER_POINTS = 30
RISK_MANY_LINKS_THRESHOLD = 3
RISK_MANY_LINKS_POINTS = 20
RISK_IDENTICAL_TEXT_RECIPIENTS = 10  # the same text to this many other recipients in 24 h
RISK_IDENTICAL_TEXT_POINTS = 40
RISK_NEVER_WROTE_MIN_RECIPIENTS = 10  # judged once an instance reached this many recipients in 24 h
RISK_NEVER_WROTE_SHARE = 0.8
RISK_NEVER_WROTE_POINTS = 25
RISK_RULES: list[tuple[str, str]] = [
    (
        "content",
        "The content classifier's score for the text: 80 or more when it is confident the text is marketing, "
        "50 to 79 when it is doubtful, below 50 for utility and authentication texts.",
    ),
    ("link_shortener", f"{RISK_LINK_SHORTENER_POINTS} points when the text contains a link-shortener URL."),
    ("many_links", f"{RISK_MANY_LINKS_POINTS} points for {RISK_MANY_LINKS_THRESHOLD} or more links."),
    (
        "identical_text_many_recipients",
        f"{RISK_IDENTICAL_TEXT_POINTS} points when the same text already went to {RISK_IDENTICAL_TEXT_RECIPIENTS} "
        "or more other recipients in the last 24 hours.",
    ),
    (
        "recipients_never_wrote",
        f"{RISK_NEVER_WROTE_POINTS} points when at least {round(RISK_NEVER_WROTE_SHARE * 100)}% of the number's "
        f"recipients in the last 24 hours (at least {RISK_NEVER_WROTE_MIN_RECIPIENTS}) never wrote to it.",
    ),
]
# Link shorteners hide where a link goes; promotions and scams use them far more than receipts do.
LINK_SHORTENERS: frozenset[str] = frozenset(
    {
        "bit.ly", "bitly.com", "tinyurl.com", "t.co", "goo.gl", "ow.ly", "is.gd", "buff.ly", "rebrand.ly", "cutt.ly",
        "shorturl.at", "rb.gy", "t.ly", "tiny.cc", "s.id", "bit.do", "lnkd.in", "shorte.st", "adf.ly", "bl.ink",
        "short.io", "v.gd", "qr.ae", "clck.ru", "u.to", "x.co", "soo.gd", "wa.link", "linktr.ee", "heylink.me",
        "tiny.one", "lnk.to", "urlz.fr", "shorturl.com", "kutt.it", "bitly.ws", "cli.re", "2u.pw", "lc.cx",
    }
)  # fmt: skip

# Opt-out confirmation: one reply, within this many seconds of a keyword opt-out (docs/api.md "Opt-outs and suppression")
OPT_OUT_CONFIRMATION_WINDOW_SECONDS = 300

# The outbound queue: bounded retries with backoff for retryable provider errors (timeouts, 5xx)
SEND_MAX_ATTEMPTS = 5
SEND_RETRY_BACKOFF_SECONDS: list[int] = [10, 30, 120, 600]
# Circuit breaker per instance: this many retryable errors in a row, across at least this many recipients, mean
# the provider (not a recipient) is failing; the whole queue pauses and one message is tried as a probe after each
# delay (the last one repeats) until the provider answers again.
BREAKER_FAILURES = 3
BREAKER_MIN_RECIPIENTS = 2
BREAKER_PROBE_DELAYS_SECONDS: list[int] = [30, 60, 120, 300]
# Provider error codes that say the WhatsApp session itself is down: the queue pauses at once.
BREAKER_DISCONNECTED_CODES = frozenset({"not_connected", "instance_not_connected"})
# "typing…" shown before a message, proportional to its length, where the provider supports it
TYPING_MS_PER_CHAR = 40
TYPING_MIN_MS = 600
TYPING_MAX_MS = 4000
# A queued message that could not be sent within this time (instance offline) fails as "expired"
QUEUE_EXPIRY_HOURS = 24
# A send whose outcome is unknown (crash after handing it to the provider) waits this long for the provider's
# callbacks before it is marked failed; it is never resent blindly.
SEND_OUTCOME_UNKNOWN_AFTER_MINUTES = 15

# Idempotency-Key: responses kept and replayed for this long
IDEMPOTENCY_TTL_HOURS = 24
IDEMPOTENCY_KEY_MAX_LENGTH = 255

# Portal test send: to the account's own verified numbers only, at most this many per account per day
PORTAL_TEST_DAILY_CAP = 20

MESSAGE_MAX_CHARS = 4096
API_BODY_MAX_BYTES = 64 * 1024

# The public error table, in the order the guards run (docs/api.md "Errors").
ERROR_TABLE: list[tuple[str, int, str]] = [
    ("invalid_api_key", 401, "The API key is missing, malformed or unknown."),
    ("revoked_api_key", 401, "The API key was revoked."),
    ("invalid_json", 400, "The body is not a JSON object."),
    ("payload_too_large", 413, "The body is over 64 KB."),
    ("validation_error", 422, "A field is missing or malformed; details.field names it."),
    ("message_purpose_required", 422, "message_purpose is missing or empty."),
    ("message_purpose_not_allowed", 422, "The purpose is not one of the allowed purposes."),
    ("invalid_instance", 404, "The instance is unknown, deleted, or not visible to this key."),
    ("module_not_enabled", 403, "API sending is not enabled for the account."),
    ("account_paused", 403, "The operator or the account paused sending."),
    ("instance_not_connected", 409, "The instance is not connected to WhatsApp."),
    ("recipient_suppressed", 403, "The recipient opted out or is blocked."),
    (
        "conversation_window_closed",
        409,
        "WhatsApp Cloud API: a free-form text to someone who has not written in 24 hours; send a Meta template.",
    ),
    (
        "daily_limit_reached",
        429,
        "The plan's daily limit is used up; see details.limit/used and Retry-After.",
    ),
    ("monthly_limit_reached", 429, "The plan's monthly limit is used up."),
    ("sending_throttled", 429, "A velocity limit was hit (per instance, per recipient, duplicate, warm-up)."),
    ("policy_violation", 403, "The risk score reached the block threshold; details.reasons says why."),
    ("idempotency_key_reused", 422, "The Idempotency-Key was used before with a different body."),
    ("idempotency_in_progress", 409, "The first request with this Idempotency-Key is still running."),
    ("gateway_send_failed", 502, "The messaging provider rejected the message synchronously."),
]
