"""Deskmail test suite, mirroring the packages; servers/ holds real SMTP, IMAP and DB fixtures."""
