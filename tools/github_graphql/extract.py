"""Cut the part of GitHub's public GraphQL schema that Shiplog uses out of octokit/graphql-schema's copy.

    python tools/github_graphql/extract.py FULL_SCHEMA.graphql > tests/fixtures/github_graphql/schema.graphql

The full schema (https://github.com/octokit/graphql-schema, `schema.graphql`, MIT) is 1.2 MB and
repeats a few fields, which graphql-core refuses to validate against. This keeps the types and
fields listed in `KEEP`, each copied as GitHub defines it (arguments, types and descriptions), and
the interfaces each type implements when they and their kept fields are kept too. Add a field here before a query asks
for it: `tests/test_graphql.py` validates every query the radar builds against the result.
"""

from __future__ import annotations

import sys
from dataclasses import replace

from graphql import parse, print_ast
from graphql.language import (
    EnumTypeDefinitionNode,
    InputObjectTypeDefinitionNode,
    InterfaceTypeDefinitionNode,
    ObjectTypeDefinitionNode,
    ScalarTypeDefinitionNode,
)

# Type -> the fields kept (None: the whole definition, for enums, inputs and scalars).
KEEP: dict[str, list[str] | None] = {
    "Query": ["node", "nodes", "rateLimit"],
    "Node": ["id"],
    "Actor": ["login"],
    "User": ["databaseId", "id", "login", "pullRequests"],
    "Bot": ["databaseId", "id", "login"],
    "PullRequestConnection": ["nodes", "pageInfo", "totalCount"],
    "PageInfo": ["endCursor", "hasNextPage"],
    "PullRequest": [
        "author",
        "body",
        "closedAt",
        "createdAt",
        "id",
        "labels",
        "mergedAt",
        "number",
        "repository",
        "title",
        "updatedAt",
        "url",
    ],
    "LabelConnection": ["nodes", "totalCount"],
    "Label": ["id", "name"],
    "Repository": ["id", "isPrivate", "nameWithOwner"],
    "RateLimit": ["cost", "limit", "nodeCount", "remaining", "resetAt", "used"],
    "PullRequestState": None,
    "IssueOrder": None,
    "IssueOrderField": None,
    "OrderDirection": None,
    "LabelOrder": None,
    "LabelOrderField": None,
    "DateTime": None,
    "URI": None,
}


WHOLE = EnumTypeDefinitionNode | InputObjectTypeDefinitionNode | ScalarTypeDefinitionNode | ObjectTypeDefinitionNode


def extract(text: str) -> str:
    """Return the kept part of a schema, in the order of `KEEP`."""
    found = {}
    for node in parse(text, no_location=True).definitions:
        name = getattr(getattr(node, "name", None), "value", None)
        if name in KEEP and name not in found:
            found[name] = node
    out = []
    for name, fields in KEEP.items():
        node = found[name]
        if isinstance(node, ObjectTypeDefinitionNode | InterfaceTypeDefinitionNode) and fields is not None:
            seen: set[str] = set()
            kept = []
            for field in node.fields or ():
                if field.name.value in fields and field.name.value not in seen:
                    seen.add(field.name.value)
                    kept.append(field)
            missing = set(fields) - seen
            if missing:
                raise SystemExit(f"{name} has no field {sorted(missing)}")
            # An interface is kept when the type keeps every field of it that is kept.
            interfaces = tuple(
                i for i in node.interfaces or () if i.name.value in KEEP and set(KEEP[i.name.value] or ()) <= seen
            )
            node = replace(node, fields=tuple(kept), interfaces=interfaces, directives=())
        elif not isinstance(node, WHOLE):
            raise SystemExit(f"{name}: unexpected definition {type(node).__name__}")
        out.append(print_ast(node))
    return "\n\n".join(out) + "\n"


if __name__ == "__main__":
    with open(sys.argv[1], encoding="utf-8") as full:
        sys.stdout.write(extract(full.read()))
