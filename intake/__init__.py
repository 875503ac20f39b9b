"""Mail in: the first stages of Deskmail's flow.

SMTP server and IMAP poller store raw mail durably; then, in the worker, MIME parsing,
screening (auto-replies, bounces, loops, lists, limits), reply trimming and threading onto
tickets. Imports only `models`; `deskmail.pipeline` calls these stages in order.
"""
