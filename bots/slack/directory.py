"""Who is who in the Slack workspace: user-group members, cached for a few minutes."""

from __future__ import annotations

import logging
import time

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

log = logging.getLogger(__name__)

TTL_S = 300.0


class Directory:
    """Answers 'who is in user group S…' from `usergroups.users.list`, with a short cache."""

    def __init__(self, client: AsyncWebClient, *, ttl: float = TTL_S) -> None:
        self.client = client
        self.ttl = ttl
        self._groups: dict[str, tuple[float, frozenset[str]]] = {}

    async def group_members(self, group_id: str) -> frozenset[str]:
        """The user ids in a user group; empty (and logged) when Slack cannot say."""
        cached = self._groups.get(group_id)
        now = time.monotonic()
        if cached is not None and now - cached[0] < self.ttl:
            return cached[1]
        try:
            response = await self.client.usergroups_users_list(usergroup=group_id)
        except SlackApiError as exc:
            log.warning("slack: members of %s unknown: %s", group_id, exc.response.get("error"))
            return cached[1] if cached is not None else frozenset()
        except Exception as exc:
            log.warning("slack: members of %s unknown: %s", group_id, type(exc).__name__)
            return cached[1] if cached is not None else frozenset()
        members = frozenset(str(u) for u in response.get("users") or [])
        self._groups[group_id] = (now, members)
        return members
