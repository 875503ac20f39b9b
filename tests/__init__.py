"""Deskmail test suite: mirrors the packages; servers/ holds fixtures for real SMTP, IMAP, PostgreSQL."""
