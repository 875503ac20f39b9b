"""Tests for deskmail."""
