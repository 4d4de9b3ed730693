"""The Huddle presence dialect (the Huddle Presence API reference): out-of-office entries, audits, teams,
workspaces."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any
from urllib.parse import urlencode, urlparse

from fastapi import APIRouter, Body, Depends, Query
from starlette.responses import JSONResponse, Response

from server.dialects import times
from server.dialects.base import Dialect, retry_headers
from server.dialects.common import domain_dep, signed_in
from server.dialects.shapes.huddle import (
    HuddleAuditPage,
    HuddleMember,
    HuddlePresence,
    HuddlePresencePage,
    HuddleSummary,
    HuddleTeam,
    HuddleTeams,
    HuddleUser,
    HuddleWorkspace,
    HuddleWorkspaces,
    Link,
    huddle,
)
from server.domain.core import Domain
from server.domain.errors import Invalid
from server.domain.groups import Group
from server.domain.membership import is_live
from server.domain.ooo import DatesReversed, Listing, OooChange, OooFields, check_range
from server.model import MAX_PK, OooEntry, Team, User, Workspace

router = APIRouter(tags=["huddle presence"])


class Huddle(Dialect):
    """OOO presence, users, teams and workspaces: `{"statusCode", "errorCode", "errorMessages"}`."""

    name = "huddle"
    prefixes = ("/presence", "/users", "/teams", "/workspaces")

    def error(self, status: int, code: str, message: str, *, retry_after: int | None = None) -> Response:
        """The reference's error object; every 401 is `AccessTokenInvalid`."""
        code = "AccessTokenInvalid" if status == 401 else code
        body = {"statusCode": status, "errorCode": code, "errorMessages": [message]}
        return JSONResponse(body, status, headers=retry_headers(retry_after))


DIALECT = Huddle(router)


Me = Annotated[int, Depends(signed_in)]
Dom = Annotated[Domain, Depends(domain_dep)]
Skip = Annotated[int, Query(ge=0, le=MAX_PK)]  # a bigger one would overflow SQLite's OFFSET
PageSize = Annotated[int, Query(ge=1, le=100)]
JsonObject = Annotated[dict[str, Any], Body()]
# A query's body: every field is optional, so no body at all is an empty query (for `POST
# /presence`, which names no user then: UserNotProvided, the reference's row).
QueryBody = Annotated[dict[str, Any] | None, Body()]
QUERY = huddle(HuddlePresencePage, 400, 401, 403, 404)


def link(rel: str, href: str) -> Link:
    """One `links` element."""
    return {"rel": rel, "href": href}


def entity(owner: User, entry: OooEntry, *rels: str) -> HuddlePresence:
    """A presence entity with the links named by rels (self, user, presence)."""
    hrefs = {"self": f"/presence/{owner.pk}/{entry.pk}", "user": f"/users/{owner.pk}"}
    hrefs["presence"] = hrefs["self"]
    return {
        "links": [link(rel, hrefs[rel]) for rel in rels],
        "id": entry.pk,
        "isActive": entry.is_active,
        "startDate": times.offset(entry.start_date),
        "endDate": times.offset(entry.end_date),
        "message": entry.message,
    }


def page_links(base: str, listing: Listing) -> list[Link]:
    """first / previous / next for a paged result."""

    def at(skip: int) -> str:
        return f"{base}?{urlencode({'skip': skip, 'pagesize': listing.pagesize})}"

    out = [link("first", at(0))]
    if listing.skip > 0:
        out.append(link("previous", at(max(0, listing.skip - listing.pagesize))))
    if listing.skip + listing.pagesize < listing.total:
        out.append(link("next", at(listing.skip + listing.pagesize)))
    return out


def entities(listing: Listing, owners: dict[int, User]) -> list[HuddlePresence]:
    """Entities of a query, each with user and presence links."""
    return [entity(owners[e.user_pk], e, "user", "presence") for e in listing.items]


def _links_of(body: dict[str, Any], rel: str) -> list[str]:
    """The ids named by `links` of one rel: the last path segment of each href."""
    links = body.get("links", [])
    if not isinstance(links, list) or not all(isinstance(x, dict) for x in links):
        raise Invalid("InvalidRequest", "links must be a list of {rel, href} objects")
    out = []
    for item in links:
        if item.get("rel") != rel:
            continue
        href = item.get("href")
        if not isinstance(href, str) or not href.strip():
            raise Invalid("InvalidRequest", f"a {rel} link needs an href")
        out.append(urlparse(href.strip()).path.rstrip("/").rsplit("/", 1)[-1])
    return out


def parse_date(value: Any, code: str) -> int | None:
    """A DateTimeOffset (any offset) or null; `code` names the error."""
    if value is None:
        return None
    try:
        return times.parse_rfc3339(value)
    except ValueError:
        raise Invalid(code, f"{value!r} is not a date with an offset, e.g. 2022-04-19T16:30:29+00:00") from None


@contextmanager
def dates_in_order(code: str) -> Iterator[None]:
    """The domain's DatesReversed, in the reference's words (`code` differs by route)."""
    try:
        yield
    except DatesReversed:
        raise Invalid(code, "startDate is after endDate") from None


def parse_range(body: dict[str, Any]) -> tuple[int | None, int | None]:
    """`startDate` and `endDate` of a body, in order."""
    start, end = parse_date(body.get("startDate"), "DateInvalid"), parse_date(body.get("endDate"), "DateInvalid")
    with dates_in_order("DateRangeInvalid"):
        check_range(start, end)
    return start, end


def ooo_change(body: dict[str, Any]) -> OooChange:
    """What a PUT changes of an entry: the fields it sends (`null` clears a date or the message)."""
    fields: dict[str, Any] = {}
    if "isActive" in body:
        if not isinstance(body["isActive"], bool):
            raise Invalid("InvalidRequest", "isActive must be true or false")
        fields["is_active"] = body["isActive"]
    if "startDate" in body:
        fields["start"] = parse_date(body["startDate"], "PresenceDateInvalid")
    if "endDate" in body:
        fields["end"] = parse_date(body["endDate"], "PresenceDateInvalid")
    if "message" in body:
        fields["message"] = body["message"]
    return OooChange(**fields)


# ---- presence entities ---------------------------------------------------------------
@router.post("/presence/create", status_code=201, responses=huddle(HuddlePresence, 400, 401, status=201, location=True))
async def create(body: JsonObject, me: Me, domain: Dom) -> JSONResponse:
    """Turn OOO on: a new entry; earlier ones are kept."""
    is_active = body.get("isActive")
    if not isinstance(is_active, bool):
        raise Invalid("InvalidRequest", "isActive is required: true or false")
    start, end = parse_range(body)
    owner, entry = await domain.ooo.create(me, OooFields(is_active, start, end, body.get("message")))
    location = f"/presence/{owner.pk}/{entry.pk}"
    return JSONResponse(entity(owner, entry, "self", "user"), 201, headers={"Content-Location": location})


async def _query(
    domain: Domain, me: int, body: dict[str, Any], skip: int, pagesize: int, self_href: str, base: str, **scope: str
) -> HuddlePresencePage:
    """An overlap query (by users, or within a team or workspace) rendered with its paging links."""
    users = _links_of(body, "user")
    start, end = parse_range(body)
    if not users and not scope:
        raise Invalid("UserNotProvided", "name at least one user in links (rel user)")
    listing, owners = await domain.ooo.query(
        me, users=users, start=start, end=end, skip=skip, pagesize=pagesize, **scope
    )
    return {
        "links": [link("self", self_href), *page_links(base, listing)],
        "presenceEntities": entities(listing, owners),
    }


@router.post("/presence", response_model=Any, responses=QUERY)
async def by_users(
    me: Me, domain: Dom, body: QueryBody = None, skip: Skip = 0, pagesize: PageSize = 20
) -> HuddlePresencePage:
    """Entries of the users named in `links` that overlap the date range."""
    return await _query(domain, me, body or {}, skip, pagesize, "/presence", "/presence")


@router.post("/presence/teams/{team_id}", response_model=Any, responses=QUERY)
async def by_team(
    team_id: str, me: Me, domain: Dom, body: QueryBody = None, skip: Skip = 0, pagesize: PageSize = 20
) -> HuddlePresencePage:
    """Entries of a team's members (narrowed by `user` links) that overlap the date range."""
    base = f"/presence/teams/{team_id}"
    return await _query(domain, me, body or {}, skip, pagesize, f"/teams/{team_id}", base, team=team_id)


@router.post("/presence/workspace/{workspace_id}", response_model=Any, responses=QUERY)
async def by_workspace(
    workspace_id: str, me: Me, domain: Dom, body: QueryBody = None, skip: Skip = 0, pagesize: PageSize = 20
) -> HuddlePresencePage:
    """Entries of a workspace's members (narrowed by `user` links) that overlap the date range."""
    base = f"/presence/workspace/{workspace_id}"
    self_href = f"/workspaces/{workspace_id}"
    return await _query(domain, me, body or {}, skip, pagesize, self_href, base, workspace=workspace_id)


@router.get("/presence/{user_id}/audits", response_model=Any, responses=huddle(HuddleAuditPage, 400, 401, 403, 404))
async def audits(user_id: str, me: Me, domain: Dom, skip: Skip = 0, pagesize: PageSize = 20) -> HuddleAuditPage:
    """What the user did to their entries: create, update, delete."""
    owner, listing = await domain.ooo.audits(me, user_id, skip, pagesize)
    base = f"/presence/{owner.pk}/audits"
    return {
        "links": [link("self", base), link("parent", f"/users/{owner.pk}"), *page_links(base, listing)],
        "audits": [
            {"auditType": kind, "timeStamp": times.offset(at), "context": context}
            for kind, at, context in listing.items
        ],
    }


@router.get("/presence/{user_id}", response_model=Any, responses=huddle(HuddlePresencePage, 400, 401, 403, 404))
async def of_user(user_id: str, me: Me, domain: Dom, skip: Skip = 0, pagesize: PageSize = 20) -> HuddlePresencePage:
    """Your own entries."""
    owner, listing = await domain.ooo.of_user(me, user_id, skip, pagesize)
    base = f"/presence/{owner.pk}"
    return {
        "links": [link("self", base), *page_links(base, listing)],
        "presenceEntities": [entity(owner, e, "user", "presence") for e in listing.items],
    }


@router.get(
    "/presence/{user_id}/{presence_id}", response_model=Any, responses=huddle(HuddlePresence, 400, 401, 403, 404)
)
async def get_entry(user_id: str, presence_id: str, me: Me, domain: Dom) -> HuddlePresence:
    """One entry (owner, admins, team and workspace mates)."""
    owner, entry = await domain.ooo.get(me, user_id, presence_id)
    return entity(owner, entry, "self", "user")


@router.put("/presence/{user_id}/{presence_id}", responses=huddle(HuddlePresence, 400, 401, 403, 404, location=True))
async def update(user_id: str, presence_id: str, body: JsonObject, me: Me, domain: Dom) -> JSONResponse:
    """Change one of your entries."""
    with dates_in_order("PresenceDateInvalid"):
        owner, entry = await domain.ooo.update(me, user_id, presence_id, lambda: ooo_change(body))
    location = f"/presence/{owner.pk}/{entry.pk}"
    return JSONResponse(entity(owner, entry, "self", "user", "presence"), headers={"Content-Location": location})


@router.delete(
    "/presence/{user_id}/{presence_id}",
    status_code=204,
    responses=huddle(None, 400, 401, 403, 404, status=204, description="Deleted."),
)
async def delete(user_id: str, presence_id: str, me: Me, domain: Dom) -> Response:
    """Remove one of your entries."""
    await domain.ooo.delete(me, user_id, presence_id)
    return Response(status_code=204)


# Empty ids in the path get the reference's *NotProvided codes, not a bare 404.
@router.get("/presence/", include_in_schema=False)
@router.get("/presence//audits", include_in_schema=False)
@router.delete("/presence//{presence_id}", include_in_schema=False)
@router.put("/presence//{presence_id}", include_in_schema=False)
async def no_user(me: Me) -> Response:
    """No user id given."""
    raise Invalid("UserNotProvided", "no user id was given")


@router.delete("/presence/{user_id}/", include_in_schema=False)
@router.put("/presence/{user_id}/", include_in_schema=False)
async def no_presence(user_id: str, me: Me) -> Response:
    """No presence id given."""
    raise Invalid("PresenceNotProvided", "no presence id was given")


@router.post("/presence/teams/", include_in_schema=False)
async def no_team(me: Me) -> Response:
    """No team id given."""
    raise Invalid("TeamNotProvided", "no team id was given")


@router.post("/presence/workspace/", include_in_schema=False)
async def no_workspace(me: Me) -> Response:
    """No workspace id given."""
    raise Invalid("WorkspaceNotProvided", "no workspace id was given")


# ---- the resources links point at ----------------------------------------------------
@router.get("/users/{user_id}", response_model=Any, responses=huddle(HuddleUser, 401, 404))
async def get_user(user_id: str, me: Me, domain: Dom) -> HuddleUser:
    """A user, as the caller may see them."""
    view = await domain.people.get_ref(me, user_id)
    u = view.user
    return {
        "links": [link("self", f"/users/{u.pk}"), link("presence", f"/presence/{u.pk}")],
        "id": u.pk,
        "user": u.handle,
        "displayName": u.display_name,
        "status": u.status,
        "lastSeen": times.offset(view.last_seen),
        "teams": [{"id": t.pk, "name": t.name, "href": f"/teams/{t.pk}"} for t in view.teams if is_live(t)],
        "workspaces": [
            {"id": w.pk, "name": w.name, "href": f"/workspaces/{w.pk}"} for w in view.workspaces if is_live(w)
        ],
    }


def group_object(group: Group) -> HuddleTeam | HuddleWorkspace:
    """A team or workspace with its members."""
    record = group.record
    members: list[HuddleMember] = [
        {"id": u.pk, "user": u.handle, "displayName": u.display_name, "links": [link("user", f"/users/{u.pk}")]}
        for u in group.members
    ]
    stream = link("activitystream", f"/api/activitystreams/{record.stream_uuid}")
    if isinstance(record, Team):
        links = [link("self", f"/teams/{record.pk}"), stream]
        return {"links": links, "id": record.pk, "name": record.name, "deleted": record.deleted, "members": members}
    links = [link("self", f"/workspaces/{record.pk}"), stream]
    return {"links": links, "id": record.pk, "name": record.name, "state": record.state, "members": members}


def summary(record: Team | Workspace) -> HuddleSummary:
    """A team or workspace in a list."""
    plural = "teams" if isinstance(record, Team) else "workspaces"
    return {"id": record.pk, "name": record.name, "links": [link("self", f"/{plural}/{record.pk}")]}


def _kind_routes(kind: str, plural: str) -> None:
    """GET list/one for everyone allowed; POST, PATCH, member PUT/DELETE for admins."""
    listing = HuddleTeams if kind == "team" else HuddleWorkspaces
    one = HuddleTeam if kind == "team" else HuddleWorkspace
    membership = huddle(None, 400, 401, 403, 404, status=204, description="Done (also when nothing changed).")

    @router.get(f"/{plural}", name=f"list_{plural}", response_model=Any, responses=huddle(listing, 401))
    async def list_groups(me: Me, domain: Dom) -> HuddleTeams | HuddleWorkspaces:
        records: list[Team | Workspace] = await domain.groups.list_for(me, kind)
        links, items = [link("self", f"/{plural}")], [summary(r) for r in records]
        if kind == "team":
            return {"links": links, "teams": items}
        return {"links": links, "workspaces": items}

    @router.get(
        f"/{plural}/{{group_id}}", name=f"get_{kind}", response_model=Any, responses=huddle(one, 400, 401, 403, 404)
    )
    async def get_group(group_id: str, me: Me, domain: Dom) -> HuddleTeam | HuddleWorkspace:
        return group_object(await domain.groups.get(me, kind, group_id))

    @router.post(
        f"/{plural}",
        status_code=201,
        name=f"create_{kind}",
        responses=huddle(one, 400, 401, 403, 409, status=201, location=True),
    )
    async def create_group(body: JsonObject, me: Me, domain: Dom) -> JSONResponse:
        group = await domain.groups.create(me, kind, body)
        location = f"/{plural}/{group.record.pk}"
        return JSONResponse(group_object(group), 201, headers={"Content-Location": location})

    @router.patch(
        f"/{plural}/{{group_id}}",
        name=f"patch_{kind}",
        response_model=Any,
        responses=huddle(one, 400, 401, 403, 404, 409),
    )
    async def patch_group(group_id: str, body: JsonObject, me: Me, domain: Dom) -> HuddleTeam | HuddleWorkspace:
        return group_object(await domain.groups.patch(me, kind, group_id, body))

    @router.put(
        f"/{plural}/{{group_id}}/members/{{user_id}}",
        status_code=204,
        name=f"add_{kind}_member",
        responses=membership,
    )
    async def add_member(group_id: str, user_id: str, me: Me, domain: Dom) -> Response:
        await domain.groups.membership(me, kind, group_id, user_id, add=True)
        return Response(status_code=204)

    @router.delete(
        f"/{plural}/{{group_id}}/members/{{user_id}}",
        status_code=204,
        name=f"remove_{kind}_member",
        responses=membership,
    )
    async def remove_member(group_id: str, user_id: str, me: Me, domain: Dom) -> Response:
        await domain.groups.membership(me, kind, group_id, user_id, add=False)
        return Response(status_code=204)


_kind_routes("team", "teams")
_kind_routes("workspace", "workspaces")
