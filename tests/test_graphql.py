"""Every GraphQL query the radar can send validates against GitHub's public schema (tests/fixtures/github_graphql/)."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import pytest
from graphql import GraphQLSchema, build_schema, graphql_sync, parse, validate

from bot.services.github import graphql as gql

SCHEMA = Path(__file__).parent / "fixtures" / "github_graphql" / "schema.graphql"


@cache
def schema() -> GraphQLSchema:
    return build_schema(SCHEMA.read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", sorted(gql.QUERIES))
def test_every_query_validates_against_githubs_schema(name: str) -> None:
    text, variables = gql.QUERIES[name]
    assert validate(schema(), parse(text)) == []
    # Its variables, as the code passes them, are of the types the query declares.
    result = graphql_sync(schema(), text, root_value={"nodes": [], "node": None}, variable_values=variables)
    assert result.errors is None, result.errors


def test_the_queries_listed_are_every_query_the_code_sends() -> None:
    source = Path(gql.__file__).read_text(encoding="utf-8")
    sent = set(re.findall(r"\bask\(api, ([A-Z_]+),", source))
    assert sent == {"MERGES", "MORE", "DETAILS"}
    assert {getattr(gql, name) for name in sent} == {text for text, _ in gql.QUERIES.values()}


def test_a_typo_fails_the_validation() -> None:
    # The check can fail: a misspelt field, or an argument GitHub does not take, is reported.
    typo = gql.MERGES.replace("mergedAt", "mergedOn")
    assert [e.message for e in validate(schema(), parse(typo))] == [
        "Cannot query field 'mergedOn' on type 'PullRequest'. Did you mean 'mergedAt'?"
    ]
    wrong = gql.DETAILS.replace("labels(first: $labels)", "labels(top: $labels)")
    assert validate(schema(), parse(wrong))
    # So is a variable of the wrong type.
    result = graphql_sync(
        schema(), gql.MERGES, root_value={"nodes": []}, variable_values={"ids": ["U_1"], "first": "10"}
    )
    assert result.errors


def test_the_schema_is_the_part_the_extract_script_keeps() -> None:
    kept = {line.split()[1] for line in SCHEMA.read_text().splitlines() if line.split()[:1] in (["type"], ["enum"])}
    assert {"Query", "User", "PullRequest", "RateLimit", "PullRequestState"} <= kept


def test_a_users_legacy_node_id_is_githubs() -> None:
    # GitHub's own example: user 1 (mojombo) is MDQ6VXNlcjE= in the legacy form.
    assert gql.legacy_user_id(1) == "MDQ6VXNlcjE="
    assert gql.legacy_user_id(583231) == "MDQ6VXNlcjU4MzIzMQ=="
