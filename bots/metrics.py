"""Prometheus metrics of this process, served at /metrics."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry()

MESSAGES_IN = Counter(
    "relaydesk_messages_in", "Inbound events processed", ["channel"], registry=REGISTRY
)
MESSAGES_OUT = Counter(
    "relaydesk_messages_out", "Outbound messages sent", ["channel"], registry=REGISTRY
)
INBOX_PENDING = Gauge("relaydesk_inbox_pending", "Inbox rows waiting", registry=REGISTRY)
INBOX_LAG = Gauge(
    "relaydesk_inbox_lag_seconds", "Age of the oldest waiting inbox row", registry=REGISTRY
)
OUTBOX_PENDING = Gauge("relaydesk_outbox_pending", "Outbox rows waiting", registry=REGISTRY)
OUTBOX_LAG = Gauge(
    "relaydesk_outbox_lag_seconds", "Age of the oldest waiting outbox row", registry=REGISTRY
)
KB_DECISIONS = Counter(
    "relaydesk_kb_decisions", "Knowledge base decisions", ["decision"], registry=REGISTRY
)
KB_CONFIDENCE = Histogram(
    "relaydesk_kb_confidence",
    "Calibrated confidence of knowledge base decisions",
    buckets=(0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1.0),
    registry=REGISTRY,
)
# Fed by the drafting model client's observer (bots.drafts.observe_llm_call): one observation
# per model call, retries included, answered or failed; a failed call also counts an error of
# its kind (drafting.errors: timeout, unavailable, rate_limited, quota, auth, ...).
LLM_LATENCY = Histogram(
    "relaydesk_llm_latency_seconds",
    "Language model call latency (retries included)",
    buckets=(0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0),
    registry=REGISTRY,
)
LLM_ERRORS = Counter(
    "relaydesk_llm_errors", "Language model calls that failed", ["kind"], registry=REGISTRY
)
# Counted by the SLA runner after the tick that fired them committed (each fires once across
# replicas: a guarded update in tickets.sla).
SLA_WARNINGS = Counter("relaydesk_sla_warnings", "SLA warnings raised", registry=REGISTRY)
SLA_BREACHES = Counter("relaydesk_sla_breaches", "SLA breaches", registry=REGISTRY)
