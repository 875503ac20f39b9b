"""Tests for responder."""
