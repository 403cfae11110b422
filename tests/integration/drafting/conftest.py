"""Drafting integration fixtures: the fake OpenAI server."""

from tests.fakes.openai_server import openai_server

__all__ = ["openai_server"]
