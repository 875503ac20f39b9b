"""Outgoing mail: Jinja2 templates, rendering, the outbox and its sender. Imports only `models`.

The flow (DESIGN.md, One mail, step 4): a caller builds a mail's dataclass (`mails`), and
`outbox.enqueue` / `outbox.enqueue_automatic` renders it (`rendering`), composes the MIME
message with its threading headers (`compose`, `headers`, `thread_index`, `conversation`)
and queues it in the caller's transaction, after the never-answer-automatically check
(`suppression`). The `sender` claims queued rows and hands them to a `transport` (the SMTP
relay of `relay`, or a maildir), recording what the relay said.
"""
