"""The official AIoD SDK (`pip install aiondemand`) works against a running aiod-kg."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.data import ADMIN_KEY, example_records
from tests.support.server import LiveServer

aiod = pytest.importorskip("aiod")


@pytest.fixture
def sdk(module_live_server: LiveServer) -> Iterator[object]:
    live_server = module_live_server
    from aiod.authentication.authentication import Token, set_token

    previous = (aiod.config.api_server, aiod.config.version)
    aiod.config.api_server = live_server.base_url + "/"
    aiod.config.version = "v2"
    # The SDK sends "Authorization: Bearer <access token>"; our API key plays that part.
    set_token(Token(refresh_token="unused", access_token=ADMIN_KEY, expires_in_seconds=3600))
    yield aiod
    aiod.config.api_server, aiod.config.version = previous


def published(record: dict) -> dict:
    return {**record, "aiod_entry": {"status": "published"}}


def test_sdk_register_get_list_count_replace_delete(sdk: object) -> None:
    record = published(example_records("datasets")[0])
    identifier = aiod.datasets.register(metadata=record)
    assert isinstance(identifier, str) and identifier.startswith("data_"), identifier

    got = aiod.datasets.get_asset(identifier, data_format="json")
    assert got["name"] == record["name"]
    assert got["identifier"] == identifier

    series = aiod.datasets.get_asset(identifier)  # pandas by default
    assert series["name"] == record["name"]

    listed = aiod.datasets.get_list(data_format="json")
    assert [d["identifier"] for d in listed] == [identifier]
    frame = aiod.datasets.get_list(offset=0, limit=5)
    assert list(frame["identifier"]) == [identifier]

    assert aiod.datasets.counts() == 1
    assert aiod.datasets.counts(per_platform=True) == {"example": 1}

    by_platform = aiod.datasets.get_asset_from_platform(
        platform="example", platform_identifier="1", data_format="json"
    )
    assert by_platform["identifier"] == identifier

    from aiod.calls.calls import get_any_asset

    assert get_any_asset(identifier, data_format="json")["identifier"] == identifier

    new = {**record, "name": "renamed by the SDK"}
    new.pop("aiod_entry")
    response = aiod.datasets.replace(identifier=identifier, metadata=new)
    assert response.status_code == 200, response.text
    assert aiod.datasets.get_asset(identifier, data_format="json")["name"] == "renamed by the SDK"

    aiod.datasets.update(identifier=identifier, metadata={"version": "9.9"})
    assert aiod.datasets.get_asset(identifier, data_format="json")["version"] == "9.9"

    response = aiod.datasets.delete(identifier=identifier)
    assert response.status_code == 200
    with pytest.raises(KeyError):
        aiod.datasets.get_asset(identifier, data_format="json")


def test_sdk_reads_every_type(sdk: object) -> None:
    from aiod.default.counts import asset_counts

    for collection in ("ml_models", "publications", "persons", "organisations", "events"):
        module = getattr(aiod, collection)
        identifier = module.register(metadata=published(example_records(collection)[0]))
        assert isinstance(identifier, str), identifier
        assert module.get_asset(identifier, data_format="json")["identifier"] == identifier
    counts = asset_counts(data_format="json")
    assert counts["events"] == {"example": 1}


def test_sdk_taxonomies(sdk: object) -> None:
    import aiod.taxonomies as taxonomies

    licenses = taxonomies.licenses()
    assert "https://creativecommons.org/licenses/by/4.0/" in {t.term for t in licenses}
    sectors = taxonomies.industrial_sectors()
    assert any(t.subterms for t in sectors) and any(t.definition for t in sectors)
    assert {t.term for t in taxonomies.news_categories()} >= {"Research: Education"}


def test_sdk_all_eight_taxonomies_are_hierarchical(sdk: object) -> None:
    import aiod.taxonomies as taxonomies

    for name in taxonomies._TAXONOMIES:  # the eight the SDK knows
        getattr(taxonomies, name).cache_clear()
        terms = getattr(taxonomies, name)()
        assert terms, name
    areas = {t.term: t for t in taxonomies.research_areas()}
    assert "Machine Learning" in {s.term for s in areas["Learning"].subterms}
    domains = {t.term: t for t in taxonomies.scientific_domains()}
    assert domains["Natural Sciences"].definition
    assert "Mathematics" in {s.term for s in domains["Natural Sciences"].subterms}
    assert {t.term for t in taxonomies.number_of_employees()} >= {"<10"}
    assert taxonomies.turnovers() and taxonomies.publication_types()


def test_sdk_bookmarks_and_current_user(sdk: object) -> None:
    import aiod.bookmarks as bookmarks
    from aiod.authentication import get_current_user

    user = get_current_user()
    assert user.name and isinstance(user.roles, tuple)
    identifier = aiod.datasets.register(metadata=published(example_records("datasets")[0]))
    assert bookmarks.get_list() == []
    made = bookmarks.register(identifier)
    assert made.identifier == identifier and made.created.tzinfo is not None
    assert [b.identifier for b in bookmarks.get_list()] == [identifier]
    assert bookmarks.register(identifier).created == made.created  # twice: one bookmark
    with pytest.raises(KeyError):
        bookmarks.register("data_" + "x" * 24)
    bookmarks.delete(identifier)
    bookmarks.delete(identifier)  # no error when there is none
    assert bookmarks.get_list() == []
    aiod.datasets.delete(identifier=identifier)


def test_sdk_platforms_counts_and_content(sdk: object, module_live_server: LiveServer) -> None:
    record = published(example_records("datasets")[0])
    target = module_live_server.base_url + "/health"
    record["distribution"] = [{**record["distribution"][0], "content_url": target}]
    identifier = aiod.datasets.register(metadata=record)

    platform = aiod.platforms.register(metadata={"name": "example"})
    assert isinstance(platform, str) and platform.startswith("plat_")
    assert "example" in {p["name"] for p in aiod.platforms.get_list(data_format="json")}

    assert aiod.counts(data_format="json")["datasets"] == {"example": 1}
    assert aiod.datasets.get_content(identifier=identifier) == b'{"status":"ok"}'
    aiod.datasets.delete(identifier=identifier)
    aiod.platforms.delete(identifier=platform)
