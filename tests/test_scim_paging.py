"""`ScimClient.list_all` against a fake SCIM server whose paging misbehaves."""

from __future__ import annotations

import pytest

from domain.scim import paging
from domain.scim.client import Listing, ScimClient
from domain.scim.errors import ScimServerError, ScimUnauthorized
from tests.support.fake_scim import FakeResponse, FakeScim, make_users


async def list_users(fake: FakeScim, page_size: int) -> Listing:
    async with ScimClient(fake.base_url, fake.token) as client:
        return await client.list_all("Users", page_size=page_size)


async def test_reads_every_page(fake_scim: FakeScim) -> None:
    fake_scim.users.resources = make_users(7)
    progress: list[tuple[int, int | None]] = []

    async def on_page(read: int, total: int | None) -> None:
        progress.append((read, total))

    async with ScimClient(fake_scim.base_url, fake_scim.token) as client:
        listing = await client.list_all("Users", page_size=3, on_page=on_page)

    assert listing.resources == make_users(7)
    assert listing.total == 7
    assert listing.complete is True
    assert listing.problem is None
    # The third page is shorter than the others and reaches totalResults, so
    # no empty page is read to end the listing.
    assert fake_scim.pages_read("/Users") == [(1, 3), (4, 3), (7, 3)]
    assert progress == [(3, 7), (6, 7), (7, 7)]
    headers = fake_scim.requests_to("/Users")[0].headers
    assert headers["authorization"] == f"Bearer {fake_scim.token}"


async def test_empty_listing_is_complete(fake_scim: FakeScim) -> None:
    listing = await list_users(fake_scim, page_size=3)

    assert listing.resources == []
    assert listing.total == 0
    assert listing.complete is True
    assert listing.problem is None
    assert fake_scim.pages_read("/Users") == [(1, 3)]


async def test_ignored_start_index_stops_incomplete(fake_scim: FakeScim) -> None:
    fake_scim.users.resources = make_users(7)
    fake_scim.users.ignore_start_index = True

    listing = await list_users(fake_scim, page_size=3)

    assert listing.resources == make_users(3)
    assert listing.total == 7
    assert listing.complete is False
    assert listing.problem == (
        "the target answered startIndex 4 with the page at startIndex 1"
    )
    assert fake_scim.pages_read("/Users") == [(1, 3), (4, 3)]


async def test_ignored_start_index_without_total(fake_scim: FakeScim) -> None:
    fake_scim.users.resources = make_users(7)
    fake_scim.users.ignore_start_index = True
    fake_scim.users.omit_total_results = True

    listing = await list_users(fake_scim, page_size=3)

    assert listing.resources == make_users(3)
    assert listing.total is None
    assert listing.complete is False
    assert fake_scim.pages_read("/Users") == [(1, 3), (4, 3)]


async def test_first_page_past_end_with_total(fake_scim: FakeScim) -> None:
    fake_scim.users.resources = make_users(6)
    fake_scim.users.first_page_past_end = True

    listing = await list_users(fake_scim, page_size=3)

    assert listing.resources == make_users(6)
    assert listing.complete is True
    assert listing.problem is None
    assert fake_scim.pages_read("/Users") == [(1, 3), (4, 3), (7, 3)]


async def test_first_page_past_end_without_total(fake_scim: FakeScim) -> None:
    fake_scim.users.resources = make_users(6)
    fake_scim.users.first_page_past_end = True
    fake_scim.users.omit_total_results = True

    listing = await list_users(fake_scim, page_size=3)

    # The repeated first page cannot be distinguished from paging that never
    # advances, so the listing is not trusted for removals.
    assert listing.resources == make_users(6)
    assert listing.complete is False
    assert listing.problem == (
        "the target answered startIndex 7 with the page at startIndex 1"
    )


async def test_total_below_reality_reads_on(fake_scim: FakeScim) -> None:
    fake_scim.users.resources = make_users(7)
    fake_scim.users.total_results = 4

    listing = await list_users(fake_scim, page_size=3)

    assert listing.resources == make_users(7)
    assert listing.total == 4
    assert listing.complete is True
    assert listing.problem is None
    # Full pages past totalResults are read on, to find the resources that
    # the understated total leaves out; the short third page ends the listing.
    assert fake_scim.pages_read("/Users") == [(1, 3), (4, 3), (7, 3)]


async def test_total_above_reality_is_incomplete(fake_scim: FakeScim) -> None:
    fake_scim.users.resources = make_users(7)
    fake_scim.users.total_results = 10

    listing = await list_users(fake_scim, page_size=3)

    assert listing.resources == make_users(7)
    assert listing.total == 10
    assert listing.complete is False
    assert listing.problem == "the target listed 7 of the 10 resources it announced"
    assert fake_scim.pages_read("/Users") == [(1, 3), (4, 3), (7, 3), (8, 3)]


async def test_missing_total_reads_to_empty_page(fake_scim: FakeScim) -> None:
    fake_scim.users.resources = make_users(5)
    fake_scim.users.omit_total_results = True

    listing = await list_users(fake_scim, page_size=2)

    assert listing.resources == make_users(5)
    assert listing.total is None
    assert listing.complete is True
    assert listing.problem is None
    assert fake_scim.pages_read("/Users") == [(1, 2), (3, 2), (5, 2), (6, 2)]


async def test_empty_page_without_resources_key(fake_scim: FakeScim) -> None:
    fake_scim.users.resources = make_users(2)
    fake_scim.users.omit_empty_resources = True

    listing = await list_users(fake_scim, page_size=2)

    assert listing.resources == make_users(2)
    assert listing.complete is True
    assert listing.problem is None
    assert fake_scim.pages_read("/Users") == [(1, 2), (3, 2)]


async def test_empty_list_without_resources_key(fake_scim: FakeScim) -> None:
    fake_scim.users.omit_empty_resources = True
    fake_scim.users.omit_total_results = True

    listing = await list_users(fake_scim, page_size=2)

    assert listing.resources == []
    assert listing.total is None
    assert listing.complete is True
    assert listing.problem is None


async def test_page_cap_below_count(fake_scim: FakeScim) -> None:
    fake_scim.users.resources = make_users(7)
    fake_scim.users.max_page_size = 2

    listing = await list_users(fake_scim, page_size=5)

    assert listing.resources == make_users(7)
    assert listing.complete is True
    assert listing.problem is None
    assert fake_scim.pages_read("/Users") == [(1, 5), (3, 5), (5, 5), (7, 5)]


async def test_resources_without_id_keep_paging(fake_scim: FakeScim) -> None:
    users = make_users(7)
    for user in users[2:4]:
        del user["id"]
    fake_scim.users.resources = users
    fake_scim.users.omit_total_results = True

    listing = await list_users(fake_scim, page_size=2)

    # A resource without an id cannot be mirrored, but the page it fills is
    # not the end of the listing.
    assert listing.resources == users[:2] + users[4:]
    assert listing.complete is True
    assert fake_scim.pages_read("/Users") == [(1, 2), (3, 2), (5, 2), (7, 2), (8, 2)]


async def test_max_pages_guard(
    fake_scim: FakeScim, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(paging, "MAX_PAGES", 2)
    fake_scim.users.resources = make_users(7)

    listing = await list_users(fake_scim, page_size=3)

    assert listing.resources == make_users(6)
    assert listing.total == 7
    assert listing.complete is False
    assert listing.problem == "paging went past 2 pages"
    assert fake_scim.pages_read("/Users") == [(1, 3), (4, 3)]


async def test_server_error_mid_listing_raises(fake_scim: FakeScim) -> None:
    fake_scim.users.resources = make_users(7)
    fake_scim.inject("/Users", FakeResponse.html(500), after=1)

    with pytest.raises(ScimServerError) as raised:
        await list_users(fake_scim, page_size=3)

    assert raised.value.status == 500
    assert raised.value.detail == "an HTML page instead of a SCIM error"
    assert raised.value.message == (
        f"GET {fake_scim.base_url}/Users returned 500: "
        "an HTML page instead of a SCIM error"
    )
    assert fake_scim.pages_read("/Users") == [(1, 3), (4, 3)]


async def test_wrong_token_raises_unauthorized(fake_scim: FakeScim) -> None:
    fake_scim.users.resources = make_users(2)

    async with ScimClient(fake_scim.base_url, "wrong-token") as client:
        with pytest.raises(ScimUnauthorized) as raised:
            await client.list_all("Users", page_size=3)

    assert raised.value.status == 401
    assert "wrong-token" not in raised.value.message


async def test_understated_total_with_page_cap(fake_scim: FakeScim) -> None:
    fake_scim.users.resources = make_users(7)
    fake_scim.users.max_page_size = 2
    fake_scim.users.total_results = 2

    listing = await list_users(fake_scim, page_size=5)

    # The first page is as long as the target's pages go, so it cannot show
    # that the listing ends there, whatever totalResults states.
    assert listing.resources == make_users(7)
    assert listing.complete is True
    assert fake_scim.pages_read("/Users") == [(1, 5), (3, 5), (5, 5), (7, 5)]


async def test_zero_based_echo_is_consistent(fake_scim: FakeScim) -> None:
    fake_scim.users.resources = make_users(5)
    fake_scim.users.echo_shift = -1

    listing = await list_users(fake_scim, page_size=2)

    assert listing.resources == make_users(5)
    assert listing.complete is True
    assert listing.problem is None
    assert fake_scim.pages_read("/Users") == [(1, 2), (3, 2), (5, 2)]


async def test_echo_moving_differently_stops(fake_scim: FakeScim) -> None:
    fake_scim.users.resources = make_users(5)
    fake_scim.users.max_page_size = 2
    fake_scim.inject(
        "/Users",
        FakeResponse(
            json={
                "totalResults": 5,
                "startIndex": 1,
                "Resources": make_users(2, start=3),
            }
        ),
        after=1,
        times=1,
    )

    listing = await list_users(fake_scim, page_size=2)

    # The second page brings new ids, but its startIndex is 1, so the target
    # returned some other page than the one requested.
    assert listing.resources == make_users(2)
    assert listing.complete is False
    assert listing.problem == (
        "the target answered startIndex 3 with the page at startIndex 1"
    )
    assert fake_scim.pages_read("/Users") == [(1, 2), (3, 2)]


async def test_total_as_string(fake_scim: FakeScim) -> None:
    fake_scim.users.resources = make_users(3)
    fake_scim.users.total_results_as_string = True

    listing = await list_users(fake_scim, page_size=2)

    assert listing.resources == make_users(3)
    assert listing.total == 3
    assert listing.complete is True
    assert fake_scim.pages_read("/Users") == [(1, 2), (3, 2)]


async def test_null_resources_ends_listing(fake_scim: FakeScim) -> None:
    fake_scim.users.resources = make_users(2)
    fake_scim.users.null_empty_resources = True

    listing = await list_users(fake_scim, page_size=2)

    assert listing.resources == make_users(2)
    assert listing.complete is True
    assert fake_scim.pages_read("/Users") == [(1, 2), (3, 2)]
    assert fake_scim.requests_to("/Users")[-1].params == {
        "startIndex": "3",
        "count": "2",
    }


async def test_integer_ids_are_strings(fake_scim: FakeScim) -> None:
    users = make_users(3)
    for number, user in enumerate(users):
        user["id"] = number
    fake_scim.users.resources = users

    listing = await list_users(fake_scim, page_size=5)

    # Id 0 is an id like any other, not a missing one.
    assert [user["id"] for user in listing.resources] == [0, 1, 2]
    assert listing.complete is True
