"""What happens to an inbound SMS, from the provider's webhook to the reply.

1. The raw message is stored first (`InboundMessage`, unique `MessageSid`): a
   Twilio retry of the same message finds it and gets the same reply, changing
   nothing; two deliveries at once meet at the unique constraint (`receiving`).
2. The sender is looked up by number: a doctor, else a patient (a coordinator is
   a patient who is some grid's coordinator), else unknown (`routing`).
3. The text is parsed and applied in the same transaction, with the outbox rows
   it causes, by one module per command family (`reports`, `attendance`,
   `exchanges`, `urgent`, `acknowledgements`, `subscriptions`); the outcome and
   the reply are stored with the message; one commit.
4. Whatever goes wrong, the person gets a reply that states only what was
   committed: on an unexpected error the transaction is rolled back, the message
   is stored again in a fresh one with outcome `error`, and a text the grammar
   reads as urgent is forwarded to the doctor; the reply says so only once that
   committed (`fallback`).
5. When the database cannot take the message at all, it is written to the local
   spool (`notifications.spool`), replayed into the database by the web process
   once the database is back, and the reply says it will be handled (for an
   urgent text: call the doctor or 120 now). If even the spool cannot be written,
   `SpoolUnavailable` is raised and the webhook answers non-2xx, so Twilio tries
   the number's fallback URL.
6. A mainland push stores its whole batch first, in chunks, then applies each
   stored message in its own transaction (`pending`).
"""

from __future__ import annotations

from notifications.inbound.acknowledgements import acknowledge_by_call
from notifications.inbound.context import Handled, Outcome
from notifications.inbound.message import IncomingSms
from notifications.inbound.pending import Stored, apply_stored, store_received, stored_states
from notifications.inbound.receiving import (
    receive,
    replay_spooled,
    spool_of,
    start_replaying,
    store_and_handle,
)
from notifications.inbound.routing import handle
from notifications.spool import SpoolUnavailable

__all__ = [
    "Handled",
    "IncomingSms",
    "Outcome",
    "SpoolUnavailable",
    "Stored",
    "acknowledge_by_call",
    "apply_stored",
    "handle",
    "receive",
    "replay_spooled",
    "spool_of",
    "start_replaying",
    "store_and_handle",
    "store_received",
    "stored_states",
]
