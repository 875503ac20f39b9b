"""Tests for classifier."""
