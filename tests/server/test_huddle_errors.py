"""The Huddle presence dialect (the Huddle Presence API reference): every error row of its tables,
on one shared world that no refused request may change."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from server.settings import Settings
from tests.support import LiveServer, load_team, manual_clock
from tests.support.huddle_world import World, build_world


@pytest.fixture(scope="module")
def shared_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """One world for the error rows, which must change nothing (each row checks that)."""
    db: Path = tmp_path_factory.mktemp("huddle") / "huddle.db"
    load_team(db)
    server = LiveServer(Settings(db=db, tick_seconds=0.05), manual_clock("2024-04-15T09:00:00Z")).start()
    yield build_world(server)
    server.stop()


# ---- every error row of the reference's tables -----------------------------------------
GOOD_RANGE = {"startDate": "2024-04-01T00:00:00+00:00", "endDate": "2024-04-30T00:00:00+00:00"}
ROWS: list[tuple[str, str, str, str, Any, int, str]] = [
    # (operation, caller, method, path, body, status, errorCode)
    ("audits", "alex", "GET", "/presence//audits", None, 400, "UserNotProvided"),
    ("audits", "bad", "GET", "/presence/{alex}/audits", None, 401, "AccessTokenInvalid"),
    ("audits", "alex", "GET", "/presence/99999/audits", None, 404, "UserNotFound"),
    ("create", "alex", "POST", "/presence/create", {"isActive": True, "startDate": "friday"}, 400, "DateInvalid"),
    (
        "create",
        "alex",
        "POST",
        "/presence/create",
        {"isActive": True, "endDate": "2024-02-30T00:00:00+00:00"},
        400,
        "DateInvalid",
    ),
    (
        "create",
        "alex",
        "POST",
        "/presence/create",
        {"isActive": True, "startDate": "2024-04-20T00:00:00+00:00", "endDate": "2024-04-19T00:00:00+00:00"},
        400,
        "DateRangeInvalid",
    ),
    (
        "create",
        "alex",
        "POST",
        "/presence/create",
        {"isActive": True, "message": "x" * 281},
        400,
        "MessageLengthLimitExceeded",
    ),
    ("create", "bad", "POST", "/presence/create", {"isActive": True}, 401, "AccessTokenInvalid"),
    ("by user", "alex", "GET", "/presence/%20", None, 400, "UserNotProvided"),
    ("by user", "none", "GET", "/presence/{alex}", None, 401, "AccessTokenInvalid"),
    ("by user", "alex", "GET", "/presence/99999", None, 404, "UserNotFound"),
    ("by users", "alex", "POST", "/presence", {"links": []}, 400, "UserNotProvided"),
    ("by users", "alex", "POST", "/presence", None, 400, "UserNotProvided"),  # no body: no user either
    (
        "by users",
        "alex",
        "POST",
        "/presence",
        {"startDate": "nope", "links": [{"rel": "user", "href": "/users/{jin}"}]},
        400,
        "DateInvalid",
    ),
    (
        "by users",
        "alex",
        "POST",
        "/presence",
        {
            "startDate": "2024-05-01T00:00:00+00:00",
            "endDate": "2024-04-01T00:00:00+00:00",
            "links": [{"rel": "user", "href": "/users/{jin}"}],
        },
        400,
        "DateRangeInvalid",
    ),
    (
        "by users",
        "bad",
        "POST",
        "/presence",
        {"links": [{"rel": "user", "href": "/users/{jin}"}]},
        401,
        "AccessTokenInvalid",
    ),
    (
        "by users",
        "alex",
        "POST",
        "/presence",
        {"links": [{"rel": "user", "href": "/users/99999"}]},
        404,
        "UserNotFound",
    ),
    ("by team", "alex", "POST", "/presence/teams/%20", GOOD_RANGE, 400, "TeamNotProvided"),
    ("by team", "alex", "POST", "/presence/teams/", GOOD_RANGE, 400, "TeamNotProvided"),
    ("by team", "alex", "POST", "/presence/teams/{team}", {"startDate": "soon"}, 400, "DateInvalid"),
    (
        "by team",
        "alex",
        "POST",
        "/presence/teams/{team}",
        {"startDate": "2024-05-01T00:00:00+00:00", "endDate": "2024-04-01T00:00:00+00:00"},
        400,
        "DateRangeInvalid",
    ),
    ("by team", "bad", "POST", "/presence/teams/{team}", GOOD_RANGE, 401, "AccessTokenInvalid"),
    (
        "by team",
        "alex",
        "POST",
        "/presence/teams/{team}",
        {"links": [{"rel": "user", "href": "/users/{sam}"}]},
        403,
        "InsufficientPermissions",
    ),
    ("by team", "sam", "POST", "/presence/teams/{team}", GOOD_RANGE, 403, "TeamMembershipRequired"),
    ("by team", "alex", "POST", "/presence/teams/{deleted_team}", GOOD_RANGE, 403, "TeamDeleted"),
    ("by team", "alex", "POST", "/presence/teams/99999", GOOD_RANGE, 404, "TeamNotFound"),
    ("by workspace", "alex", "POST", "/presence/workspace/", GOOD_RANGE, 400, "WorkspaceNotProvided"),
    ("by workspace", "alex", "POST", "/presence/workspace/{space}", {"endDate": "tomorrow"}, 400, "DateInvalid"),
    (
        "by workspace",
        "alex",
        "POST",
        "/presence/workspace/{space}",
        {"startDate": "2024-05-01T00:00:00+00:00", "endDate": "2024-04-01T00:00:00+00:00"},
        400,
        "DateRangeInvalid",
    ),
    ("by workspace", "bad", "POST", "/presence/workspace/{space}", GOOD_RANGE, 401, "AccessTokenInvalid"),
    (
        "by workspace",
        "alex",
        "POST",
        "/presence/workspace/{space}",
        {"links": [{"rel": "user", "href": "/users/{jin}"}]},
        403,
        "InsufficientPermissions",
    ),
    ("by workspace", "jin", "POST", "/presence/workspace/{space}", GOOD_RANGE, 403, "WorkspaceMembershipRequired"),
    ("by workspace", "alex", "POST", "/presence/workspace/{archived_space}", GOOD_RANGE, 403, "WorkspaceArchived"),
    ("by workspace", "alex", "POST", "/presence/workspace/{locked_space}", GOOD_RANGE, 403, "WorkspaceLocked"),
    ("by workspace", "alex", "POST", "/presence/workspace/{deleted_space}", GOOD_RANGE, 403, "WorkspaceDeleted"),
    ("by workspace", "alex", "POST", "/presence/workspace/99999", GOOD_RANGE, 404, "WorkspaceNotFound"),
    (
        "update",
        "alex",
        "PUT",
        "/presence/{alex}/{entry}",
        {"isActive": True, "startDate": "2024-13-01T00:00:00+00:00"},
        400,
        "PresenceDateInvalid",
    ),
    (
        "update",
        "alex",
        "PUT",
        "/presence/{alex}/{entry}",
        {"startDate": "2024-05-01T00:00:00+00:00", "endDate": "2024-04-01T00:00:00+00:00"},
        400,
        "PresenceDateInvalid",
    ),
    ("update", "bad", "PUT", "/presence/{alex}/{entry}", {"isActive": False}, 401, "AccessTokenInvalid"),
    ("update", "jin", "PUT", "/presence/{alex}/{entry}", {"isActive": False}, 403, "InsufficientPermission"),
    ("update", "alex", "PUT", "/presence/99999/{entry}", {"isActive": False}, 404, "UserNotFound"),
    ("update", "alex", "PUT", "/presence/{alex}/99999", {"isActive": False}, 404, "PresenceNotFound"),
    ("delete", "alex", "DELETE", "/presence//{entry}", None, 400, "UserNotProvided"),
    ("delete", "alex", "DELETE", "/presence/{alex}/", None, 400, "PresenceNotProvided"),
    ("delete", "bad", "DELETE", "/presence/{alex}/{entry}", None, 401, "AccessTokenInvalid"),
    ("delete", "hr", "DELETE", "/presence/{alex}/{entry}", None, 403, "InsufficientPermission"),
    ("delete", "alex", "DELETE", "/presence/99999/{entry}", None, 404, "UserNotFound"),
    ("delete", "jin", "DELETE", "/presence/{jin}/{entry}", None, 404, "PresenceNotFound"),
]


def call(world: World, caller: str, method: str, path: str, body: Any) -> httpx.Response:
    if caller in ("bad", "none"):
        headers = {"Authorization": "Bearer nope"} if caller == "bad" else {}
        client = httpx.Client(base_url=world.server.url, headers=headers)
    else:
        client = world.clients[caller]
    if body is not None:
        body = (
            {**body, "links": [{**ln, "href": world.fmt(ln["href"])} for ln in body.get("links", [])]}
            if "links" in body
            else body
        )
    return client.request(method, world.fmt(path), json=body)


@pytest.mark.parametrize(
    ("operation", "caller", "method", "path", "body", "status", "code"),
    ROWS,
    ids=[f"{r[0]}-{r[6]}-{i}" for i, r in enumerate(ROWS)],
)
def test_error_rows(
    shared_world: World, operation: str, caller: str, method: str, path: str, body: Any, status: int, code: str
) -> None:
    world = shared_world
    r = call(world, caller, method, path, body)
    assert r.status_code == status, r.text
    payload = r.json()
    assert set(payload) == {"statusCode", "errorCode", "errorMessages"}
    assert (payload["statusCode"], payload["errorCode"]) == (status, code)
    assert payload["errorMessages"]
    assert all(isinstance(m, str) and m for m in payload["errorMessages"])
    # Nothing was changed by a refused request.
    entry = world.clients["alex"].get(world.fmt("/presence/{alex}/{entry}")).json()
    assert (entry["isActive"], entry["message"]) == (True, "back friday")
