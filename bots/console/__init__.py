"""Terminal chat: a person talks to the bot locally through the same engine and pipeline."""
