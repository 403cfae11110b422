"""`relaydesk` sub-commands, one module per group; `bots.cli` assembles them."""
