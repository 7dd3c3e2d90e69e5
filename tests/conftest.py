"""Shared fixtures: tiny atomic datasets written by the tests, runs isolated in tmp dirs."""

import pytest

from tests.tiny_data import pattern_sequences, write_sequences


@pytest.fixture
def tiny_data(tmp_path, monkeypatch):
    """data_path holding dataset 'tiny' (60 users x 40 items); cwd is tmp_path so ./log stays there."""
    monkeypatch.chdir(tmp_path)
    return write_sequences(str(tmp_path / "data"), "tiny", pattern_sequences())
