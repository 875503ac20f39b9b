"""Tests for knowledge."""
