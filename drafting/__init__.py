"""LLM work for agents: grounded, private reply drafts, summaries, tone and translation.

Receives ticket history and knowledge passages as plain data (`drafting.types`); never imports
the application, the helpdesk or the knowledge packages. `drafting.llm` is the only module
that talks to a model; `drafting.offline` works with none.
"""
