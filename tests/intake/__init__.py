"""Tests for intake."""
