"""The GitHub API client, against respx-mocked GitHub (no network)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import respx

from bot.errors import UserError
from bot.services.github.api import (
    GitHubAPI,
    GitHubError,
    GitHubNotFound,
    GitHubRateLimited,
    GitHubUnavailable,
    GitHubUser,
    Issue,
)

API = "https://api.github.com"
RAW = "https://gist.githubusercontent.com"
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
CODE = "shiplog-7f3a9c"

OCTOCAT = {
    "id": 583231,
    "login": "octocat",
    "type": "User",
    "bio": "I like cats.",
    "html_url": "https://github.com/octocat",
}


class FakeClock:
    """A monotonic clock that only moves when a test moves it."""

    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


@pytest.fixture
def gh() -> Iterator[respx.MockRouter]:
    # assert_all_mocked (the default) makes any request without a route fail the test.
    with respx.mock(assert_all_called=False) as router:
        yield router


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def api(client: httpx.AsyncClient, clock: FakeClock) -> GitHubAPI:
    return GitHubAPI(client, clock=clock, now=lambda: NOW)


def user(**changes: object) -> dict[str, object]:
    return {**OCTOCAT, **changes}


def gist(gid: str, *, description: str | None = None, files: dict[str, int] | None = None) -> dict[str, object]:
    """Return a gist as GET /users/{login}/gists lists it; `files` maps file names to sizes."""
    files = {"notes.md": 100} if files is None else files
    return {
        "id": gid,
        "description": description,
        "files": {
            name: {"filename": name, "size": size, "raw_url": f"{RAW}/octocat/{gid}/raw/{name}"}
            for name, size in files.items()
        },
    }


def search_item(number: int = 1, repo: str = "encode/httpx", labels: tuple[str, ...] = ("good first issue",)) -> dict:
    return {
        "number": number,
        "title": f"Issue {number}",
        "html_url": f"https://github.com/{repo}/issues/{number}",
        "repository_url": f"{API}/repos/{repo}",
        "labels": [{"id": i, "name": name} for i, name in enumerate(labels)],
        "comments": 3,
        "created_at": "2026-11-20T08:30:00Z",
    }


# Users, headers and errors


async def test_get_user_parses_and_sends_headers_without_token(api: GitHubAPI, gh: respx.MockRouter) -> None:
    route = gh.get(f"{API}/users/octocat").respond(200, json=user())
    found = await api.get_user("  @octocat ")
    assert found == GitHubUser(583231, "octocat", "User", "I like cats.", "https://github.com/octocat")
    headers = route.calls.last.request.headers
    assert headers["Accept"] == "application/vnd.github+json"
    assert headers["X-GitHub-Api-Version"] == "2022-11-28"
    assert "Authorization" not in headers


async def test_token_is_sent_as_bearer(client: httpx.AsyncClient, gh: respx.MockRouter) -> None:
    route = gh.get(f"{API}/users/octocat").respond(200, json=user(bio=None))
    found = await GitHubAPI(client, token="ghp_secret").get_user("octocat")
    assert found.bio is None
    assert route.calls.last.request.headers["Authorization"] == "Bearer ghp_secret"


async def test_unknown_user_is_not_found(api: GitHubAPI, gh: respx.MockRouter) -> None:
    gh.get(f"{API}/users/ghost-writer").respond(404, json={"message": "Not Found"})
    with pytest.raises(GitHubNotFound, match=r"^There's no GitHub user called `ghost-writer`\.$"):
        await api.get_user("ghost-writer")


@pytest.mark.parametrize(
    "login", ["", "   ", "-octo", "octo-", "oc--to", "a" * 40, "octo/cat", "octo cat", "../x", "@"]
)
async def test_bad_logins_are_refused_without_a_request(api: GitHubAPI, gh: respx.MockRouter, login: str) -> None:
    anything = gh.route().respond(200, json=user())
    with pytest.raises(GitHubError, match="isn't a valid GitHub username"):
        await api.get_user(login)
    with pytest.raises(GitHubError, match="isn't a valid GitHub username"):
        await api.user_shows_code(login, CODE)
    assert not anything.called


@pytest.mark.parametrize("login", ["a", "a" * 39, "octo-cat", "0-0-0", "Octo-Cat-2"])
async def test_valid_login_edges_are_accepted(api: GitHubAPI, gh: respx.MockRouter, login: str) -> None:
    route = gh.get(f"{API}/users/{login}").respond(200, json=user(login=login))
    assert (await api.get_user(login)).login == login
    assert route.call_count == 1


async def test_primary_rate_limit_says_when_it_resets(api: GitHubAPI, gh: respx.MockRouter) -> None:
    reset = NOW + timedelta(minutes=11, seconds=20)
    gh.get(f"{API}/users/octocat").respond(
        403,
        headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(reset.timestamp()))},
        json={"message": "API rate limit exceeded for 203.0.113.7."},
    )
    with pytest.raises(GitHubRateLimited) as caught:
        await api.get_user("octocat")
    assert str(caught.value) == "GitHub's rate limit is reached; try again in about 12 minutes."
    assert caught.value.reset_at == reset
    assert isinstance(caught.value, UserError)


async def test_secondary_rate_limit_uses_retry_after(api: GitHubAPI, gh: respx.MockRouter) -> None:
    gh.get(f"{API}/users/octocat").respond(
        403,
        headers={"retry-after": "90", "x-ratelimit-remaining": "4321"},
        json={"message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."},
    )
    with pytest.raises(GitHubRateLimited, match="try again in about 2 minutes") as caught:
        await api.get_user("octocat")
    assert caught.value.reset_at == NOW + timedelta(seconds=90)


async def test_secondary_rate_limit_without_headers(api: GitHubAPI, gh: respx.MockRouter) -> None:
    gh.get(f"{API}/users/octocat").respond(
        403, json={"message": "You have exceeded a secondary rate limit and have been temporarily blocked."}
    )
    with pytest.raises(GitHubRateLimited, match="try again in a few minutes") as caught:
        await api.get_user("octocat")
    assert caught.value.reset_at is None


async def test_429_is_a_rate_limit(api: GitHubAPI, gh: respx.MockRouter) -> None:
    gh.get(f"{API}/users/octocat").respond(429, headers={"retry-after": "30"})
    with pytest.raises(GitHubRateLimited, match=r"try again in about a minute\.$") as caught:
        await api.get_user("octocat")
    assert caught.value.reset_at == NOW + timedelta(seconds=30)


async def test_bare_429_is_a_rate_limit(api: GitHubAPI, gh: respx.MockRouter) -> None:
    gh.get(f"{API}/users/octocat").respond(429)
    with pytest.raises(GitHubRateLimited, match="try again in a few minutes") as caught:
        await api.get_user("octocat")
    assert caught.value.reset_at is None


async def test_other_403_is_not_a_rate_limit(api: GitHubAPI, gh: respx.MockRouter) -> None:
    gh.get(f"{API}/users/octocat").respond(
        403, headers={"x-ratelimit-remaining": "59"}, json={"message": "Resource not accessible by integration"}
    )
    with pytest.raises(GitHubError, match=r"HTTP 403") as caught:
        await api.get_user("octocat")
    assert not isinstance(caught.value, GitHubRateLimited | GitHubUnavailable | GitHubNotFound)


async def test_refused_token_asks_for_an_admin(api: GitHubAPI, gh: respx.MockRouter) -> None:
    gh.get(f"{API}/users/octocat").respond(401, json={"message": "Bad credentials"})
    with pytest.raises(GitHubError, match="refused Shiplog's access token"):
        await api.get_user("octocat")


async def test_server_error_is_unavailable_and_not_retried(api: GitHubAPI, gh: respx.MockRouter) -> None:
    route = gh.get(f"{API}/users/octocat").respond(500)
    with pytest.raises(GitHubUnavailable) as caught:
        await api.get_user("octocat")
    assert str(caught.value) == "GitHub isn't answering right now; try again in a few minutes."
    assert route.call_count == 1


async def test_gateway_error_is_retried_once(api: GitHubAPI, gh: respx.MockRouter) -> None:
    route = gh.get(f"{API}/users/octocat").mock(side_effect=[httpx.Response(502), httpx.Response(200, json=user())])
    assert (await api.get_user("octocat")).id == 583231
    assert route.call_count == 2


async def test_gateway_error_twice_is_unavailable(api: GitHubAPI, gh: respx.MockRouter) -> None:
    route = gh.get(f"{API}/users/octocat").respond(503)
    with pytest.raises(GitHubUnavailable):
        await api.get_user("octocat")
    assert route.call_count == 2


@pytest.mark.parametrize("error", [httpx.ConnectError("refused"), httpx.ReadTimeout("slow")])
async def test_network_errors_are_unavailable(api: GitHubAPI, gh: respx.MockRouter, error: Exception) -> None:
    gh.get(f"{API}/users/octocat").mock(side_effect=error)
    with pytest.raises(GitHubUnavailable, match="isn't answering"):
        await api.get_user("octocat")


async def test_unreadable_answer_is_unavailable(api: GitHubAPI, gh: respx.MockRouter) -> None:
    gh.get(f"{API}/users/octocat").respond(200, text="<html>proxy error</html>")
    with pytest.raises(GitHubUnavailable):
        await api.get_user("octocat")


# Repositories


async def test_repo_exists_returns_canonical_name(api: GitHubAPI, gh: respx.MockRouter) -> None:
    route = gh.get(f"{API}/repos/encode/HTTPX").respond(200, json={"full_name": "encode/httpx"})
    assert await api.repo_exists(" encode/HTTPX.git ") == "encode/httpx"
    assert route.call_count == 1


async def test_repo_exists_follows_a_rename(api: GitHubAPI, gh: respx.MockRouter) -> None:
    gh.get(f"{API}/repos/tomchristie/httpx").respond(301, headers={"Location": f"{API}/repositories/1234"})
    gh.get(f"{API}/repositories/1234").respond(200, json={"full_name": "encode/httpx"})
    assert await api.repo_exists("tomchristie/httpx") == "encode/httpx"


async def test_missing_repo_is_not_found(api: GitHubAPI, gh: respx.MockRouter) -> None:
    gh.get(f"{API}/repos/acme/secret").respond(404, json={"message": "Not Found"})
    with pytest.raises(GitHubNotFound) as caught:
        await api.repo_exists("acme/secret")
    assert str(caught.value) == "I can't find the repository `acme/secret` on GitHub (is it private?)"


@pytest.mark.parametrize(
    "repo", ["httpx", "encode/", "/httpx", "encode/httpx/issues", "encode/..", "en code/httpx", "-x/y", "a/b c", ""]
)
async def test_bad_repos_are_refused_without_a_request(api: GitHubAPI, gh: respx.MockRouter, repo: str) -> None:
    anything = gh.route().respond(200, json={"full_name": "x/y", "items": []})
    with pytest.raises(GitHubError, match="isn't a GitHub repository"):
        await api.repo_exists(repo)
    with pytest.raises(GitHubError, match="isn't a GitHub repository"):
        await api.good_first_issues(repo=repo)
    assert not anything.called


# Proving an account: a code in the bio or in a public gist


async def test_code_in_bio(api: GitHubAPI, gh: respx.MockRouter) -> None:
    gh.get(f"{API}/users/octocat").respond(200, json=user(bio=f"Cats. Shiplog: {CODE}"))
    gists = gh.get(f"{API}/users/octocat/gists").respond(200, json=[])
    assert await api.user_shows_code("octocat", CODE) is True
    assert not gists.called


async def test_code_is_case_sensitive(api: GitHubAPI, gh: respx.MockRouter) -> None:
    gh.get(f"{API}/users/octocat").respond(200, json=user(bio=CODE.upper()))
    gh.get(f"{API}/users/octocat/gists").respond(200, json=[gist("g1", description=CODE.upper(), files={})])
    assert await api.user_shows_code("octocat", CODE) is False


async def test_code_in_gist_description(api: GitHubAPI, gh: respx.MockRouter) -> None:
    gh.get(f"{API}/users/octocat").respond(200, json=user())
    gists = gh.get(f"{API}/users/octocat/gists").respond(
        200, json=[gist("g1", description="dotfiles"), gist("g2", description=f"verifying {CODE}")]
    )
    raw = gh.get(host="gist.githubusercontent.com").respond(200, text="nothing here")
    assert await api.user_shows_code("octocat", CODE) is True
    assert gists.calls.last.request.url.params["per_page"] == "30"
    assert not raw.called  # descriptions and names are checked before any file is read


async def test_code_in_gist_file_name(api: GitHubAPI, gh: respx.MockRouter) -> None:
    gh.get(f"{API}/users/octocat").respond(200, json=user())
    gh.get(f"{API}/users/octocat/gists").respond(200, json=[gist("g1", files={f"{CODE}.txt": 0})])
    raw = gh.get(host="gist.githubusercontent.com").respond(200, text="")
    assert await api.user_shows_code("octocat", CODE) is True
    assert not raw.called


async def test_code_in_small_gist_file(client: httpx.AsyncClient, gh: respx.MockRouter) -> None:
    api = GitHubAPI(client, token="ghp_secret")
    gh.get(f"{API}/users/octocat").respond(200, json=user())
    gh.get(f"{API}/users/octocat/gists").respond(
        200, json=[gist("g1", files={"big.log": 20_000}), gist("g2", files={"a.md": 50, "proof.txt": 40})]
    )
    big = gh.get(f"{RAW}/octocat/g1/raw/big.log").respond(200, text=CODE)
    other = gh.get(f"{RAW}/octocat/g2/raw/a.md").respond(200, text="# notes")
    proof = gh.get(f"{RAW}/octocat/g2/raw/proof.txt").respond(200, text=f"Linking to Shiplog: {CODE}\n")
    assert await api.user_shows_code("octocat", CODE) is True
    assert not big.called  # 10 KB or more: not read
    assert other.called
    assert proof.called
    # The token is for the API only.
    assert "Authorization" not in proof.calls.last.request.headers


async def test_code_nowhere(api: GitHubAPI, gh: respx.MockRouter) -> None:
    gh.get(f"{API}/users/octocat").respond(200, json=user())
    listed = [gist(f"g{i}") for i in range(10)]
    listed.insert(3, gist("many", files={"1.md": 10, "2.md": 10, "3.md": 10, "4.md": 10}))  # too many files
    listed.append(gist("old"))  # 12th: only its description and names are checked
    gh.get(f"{API}/users/octocat/gists").respond(200, json=listed)
    # Routes match in the order they are added: the skipped files first.
    skipped = gh.get(url__regex=rf"^{RAW}/octocat/(many|g9|old)/").respond(200, text=CODE)
    raw = gh.get(host="gist.githubusercontent.com").respond(200, text="no code in here")
    assert await api.user_shows_code("octocat", CODE) is False
    # The first ten gists are read, less the one with four files: g0..g8.
    assert raw.call_count == 9
    assert not skipped.called


@pytest.mark.parametrize(
    "url", ["http://gist.githubusercontent.com/octocat/g1/raw/notes.md", "https://169.254.169.254/latest/meta-data"]
)
async def test_gist_file_at_unexpected_address_is_not_read(api: GitHubAPI, gh: respx.MockRouter, url: str) -> None:
    gh.get(f"{API}/users/octocat").respond(200, json=user())
    odd = gist("g1")
    odd["files"]["notes.md"]["raw_url"] = url  # type: ignore[index]
    gh.get(f"{API}/users/octocat/gists").respond(200, json=[odd])
    elsewhere = gh.get(url).respond(200, text=CODE)
    assert await api.user_shows_code("octocat", CODE) is False
    assert not elsewhere.called


async def test_deleted_gist_file_is_skipped(api: GitHubAPI, gh: respx.MockRouter) -> None:
    gh.get(f"{API}/users/octocat").respond(200, json=user())
    gh.get(f"{API}/users/octocat/gists").respond(200, json=[gist("g1"), gist("g2")])
    gh.get(f"{RAW}/octocat/g1/raw/notes.md").respond(404)
    gh.get(f"{RAW}/octocat/g2/raw/notes.md").respond(200, text=CODE)
    assert await api.user_shows_code("octocat", CODE) is True


async def test_gist_file_server_error_is_unavailable(api: GitHubAPI, gh: respx.MockRouter) -> None:
    gh.get(f"{API}/users/octocat").respond(200, json=user())
    gh.get(f"{API}/users/octocat/gists").respond(200, json=[gist("g1")])
    gh.get(f"{RAW}/octocat/g1/raw/notes.md").mock(side_effect=httpx.ConnectError("refused"))
    with pytest.raises(GitHubUnavailable):
        await api.user_shows_code("octocat", CODE)


async def test_code_check_for_unknown_user(api: GitHubAPI, gh: respx.MockRouter) -> None:
    gh.get(f"{API}/users/nobody-here").respond(404, json={"message": "Not Found"})
    with pytest.raises(GitHubNotFound, match="no GitHub user called `nobody-here`"):
        await api.user_shows_code("nobody-here", CODE)


async def test_empty_code_is_a_bug(api: GitHubAPI, gh: respx.MockRouter) -> None:
    anything = gh.route().respond(200, json=user())
    with pytest.raises(ValueError, match="empty code"):
        await api.user_shows_code("octocat", "")
    assert not anything.called


# Good first issues


async def test_search_defaults(api: GitHubAPI, gh: respx.MockRouter) -> None:
    route = gh.get(f"{API}/search/issues").respond(
        200,
        json={
            "total_count": 2,
            "items": [search_item(7, labels=("good first issue", "docs")), search_item(9, "pallets/flask")],
        },
    )
    issues = await api.good_first_issues()
    params = route.calls.last.request.url.params
    assert params["q"] == 'is:issue is:open no:assignee archived:false label:"good first issue"'
    assert (params["sort"], params["order"], params["per_page"]) == ("created", "desc", "10")
    assert issues == [
        Issue(
            repo="encode/httpx",
            number=7,
            title="Issue 7",
            url="https://github.com/encode/httpx/issues/7",
            labels=["good first issue", "docs"],
            comments=3,
            created_at=datetime(2026, 11, 20, 8, 30, tzinfo=UTC),
            language=None,
        ),
        Issue(
            repo="pallets/flask",
            number=9,
            title="Issue 9",
            url="https://github.com/pallets/flask/issues/9",
            labels=["good first issue"],
            comments=3,
            created_at=datetime(2026, 11, 20, 8, 30, tzinfo=UTC),
            language=None,
        ),
    ]


async def test_search_with_language_label_and_repo(api: GitHubAPI, gh: respx.MockRouter) -> None:
    route = gh.get(f"{API}/search/issues").respond(200, json={"items": [search_item(3)]})
    issues = await api.good_first_issues(language=" python ", label="help wanted", repo="encode/httpx", limit=5)
    params = route.calls.last.request.url.params
    assert (
        params["q"]
        == 'is:issue is:open no:assignee archived:false label:"help wanted" language:python repo:encode/httpx'
    )
    assert params["per_page"] == "5"
    assert [(i.number, i.language) for i in issues] == [(3, "python")]


async def test_search_quotes_a_language_with_a_space(api: GitHubAPI, gh: respx.MockRouter) -> None:
    route = gh.get(f"{API}/search/issues").respond(200, json={"items": []})
    assert await api.good_first_issues(language="Jupyter Notebook") == []
    assert route.calls.last.request.url.params["q"].endswith(' language:"Jupyter Notebook"')


async def test_search_keeps_at_most_limit(api: GitHubAPI, gh: respx.MockRouter) -> None:
    gh.get(f"{API}/search/issues").respond(200, json={"items": [search_item(n) for n in range(1, 6)]})
    assert [i.number for i in await api.good_first_issues(limit=2)] == [1, 2]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"language": 'py"thon'}, "isn't one I can search for"),
        ({"language": "py\nthon"}, "isn't one I can search for"),
        ({"language": "x" * 51}, "isn't one I can search for"),
        ({"language": "   "}, "isn't one I can search for"),
        ({"language": "python repo:evil/x"}, "doesn't look like a programming language"),
        ({"label": 'good" first'}, "isn't one I can search for"),
        ({"label": "bug\r\nrepo:x/y"}, "isn't one I can search for"),
        ({"label": ""}, "isn't one I can search for"),
        ({"repo": "not a repo"}, "isn't a GitHub repository"),
        ({"limit": 0}, "between 1 and 50"),
        ({"limit": 51}, "between 1 and 50"),
    ],
)
async def test_bad_search_input_is_refused_without_a_request(
    api: GitHubAPI, gh: respx.MockRouter, kwargs: dict, message: str
) -> None:
    anything = gh.route().respond(200, json={"items": []})
    with pytest.raises(GitHubError, match=message):
        await api.good_first_issues(**kwargs)
    assert not anything.called


async def test_search_in_unknown_repo_is_not_found(api: GitHubAPI, gh: respx.MockRouter) -> None:
    gh.get(f"{API}/search/issues").respond(422, json={"message": "Validation Failed"})
    with pytest.raises(GitHubNotFound, match=r"can't find the repository `acme/secret`"):
        await api.good_first_issues(repo="acme/secret")


async def test_search_is_cached(api: GitHubAPI, gh: respx.MockRouter) -> None:
    route = gh.get(f"{API}/search/issues").respond(200, json={"items": [search_item(1)]})
    first = await api.good_first_issues(language="rust")
    first.clear()  # each caller's list is its own
    second = await api.good_first_issues(language="rust")
    assert [i.number for i in second] == [1]
    second.clear()
    assert [i.number for i in await api.good_first_issues(language="rust")] == [1]
    assert route.call_count == 1
    await api.good_first_issues(language="go")
    await api.good_first_issues(language="rust", limit=5)
    assert route.call_count == 3


async def test_search_cache_expires_when_the_clock_moves(
    api: GitHubAPI, gh: respx.MockRouter, clock: FakeClock
) -> None:
    route = gh.get(f"{API}/search/issues").mock(
        side_effect=[
            httpx.Response(200, json={"items": [search_item(1)]}),
            httpx.Response(200, json={"items": [search_item(2)]}),
        ]
    )
    assert [i.number for i in await api.good_first_issues()] == [1]
    clock.t += 299
    assert [i.number for i in await api.good_first_issues()] == [1]
    assert route.call_count == 1
    clock.t += 2
    assert [i.number for i in await api.good_first_issues()] == [2]
    assert route.call_count == 2


async def test_search_errors_are_not_cached(api: GitHubAPI, gh: respx.MockRouter) -> None:
    route = gh.get(f"{API}/search/issues").mock(
        side_effect=[httpx.Response(500), httpx.Response(200, json={"items": [search_item(4)]})]
    )
    with pytest.raises(GitHubUnavailable):
        await api.good_first_issues()
    assert [i.number for i in await api.good_first_issues()] == [4]
    assert route.call_count == 2


async def test_search_rate_limit(api: GitHubAPI, gh: respx.MockRouter) -> None:
    reset = NOW + timedelta(seconds=40)
    gh.get(f"{API}/search/issues").respond(
        403,
        headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(reset.timestamp()))},
        json={"message": "API rate limit exceeded"},
    )
    with pytest.raises(GitHubRateLimited, match="about a minute") as caught:
        await api.good_first_issues()
    assert caught.value.reset_at == reset


# What GitHub's headers say is bounded


class MovingClock:
    """The client's `now` and `sleep`: a sleep moves the clock at once, and is recorded."""

    def __init__(self) -> None:
        self.t = NOW
        self.slept: list[float] = []

    def now(self) -> datetime:
        return self.t

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.t += timedelta(seconds=seconds)


@pytest.mark.parametrize(
    "headers",
    [
        {"retry-after": "Fri, 31 Dec 9999 23:59:59 GMT"},
        {"retry-after": "100000000000"},
        {"retry-after": "9" * 5000},
        {"retry-after": "Mon, 99 Foo 99999 99:99:99 GMT"},
        {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "99999999999999"},
        {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "9" * 5000},
        {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "253402300800"},  # the first second of year 10000
    ],
    ids=["year-9999", "1e11-seconds", "5000-digits", "no-date", "reset-overflows", "reset-5000-digits", "year-10000"],
)
async def test_absurd_rate_limit_headers_never_crash_nor_block_past_an_hour(
    client: httpx.AsyncClient, gh: respx.MockRouter, headers: dict[str, str]
) -> None:
    moving = MovingClock()
    api = GitHubAPI(client, now=moving.now, sleep=moving.sleep)
    limited = httpx.Response(403, headers=headers, json={"message": "API rate limit exceeded"})
    route = gh.get(f"{API}/users/octocat").mock(side_effect=[limited, httpx.Response(200, json=OCTOCAT)])

    # A member hears when to try again: never more than an hour away.
    with pytest.raises(GitHubRateLimited) as caught:
        await api.get_user("octocat")
    assert caught.value.reset_at is None or NOW < caught.value.reset_at <= NOW + timedelta(hours=1)
    assert "try again in" in str(caught.value)
    with pytest.raises(GitHubRateLimited):  # meanwhile nothing is sent
        await api.get_user("octocat")
    assert route.call_count == 1

    # Background work waits for the reset, an hour at most, then goes on.
    assert (await api.get_user("octocat", background=True)).id == OCTOCAT["id"]
    assert sum(moving.slept) <= 3600
    assert route.call_count == 2


@pytest.mark.parametrize(
    "answer",
    [
        {**OCTOCAT, "id": "583231"},
        {**OCTOCAT, "id": True},
        {**OCTOCAT, "id": -5},
        {**OCTOCAT, "login": "octocat](javascript:alert(1))"},
        {**OCTOCAT, "login": None},
        [OCTOCAT],
    ],
    ids=["id-text", "id-bool", "id-negative", "login-markdown", "login-missing", "not-an-object"],
)
async def test_a_user_without_a_sound_id_and_login_is_unavailable(
    api: GitHubAPI, gh: respx.MockRouter, answer: object
) -> None:
    gh.get(f"{API}/users/octocat").respond(200, json=answer)
    gh.get(f"{API}/user/583231").respond(200, json=answer)
    with pytest.raises(GitHubUnavailable):
        await api.get_user("octocat")
    with pytest.raises(GitHubUnavailable):
        await api.get_user_by_id(583231)


async def test_a_users_link_is_kept_only_when_safe(api: GitHubAPI, gh: respx.MockRouter) -> None:
    gh.get(f"{API}/users/octocat").respond(200, json=user(html_url="javascript:alert(1)", bio=["not text"]))
    found = await api.get_user("octocat")
    assert (found.html_url, found.bio) == ("https://github.com/octocat", None)


@pytest.mark.parametrize("full_name", [None, 42, "not a repo", "octo/repo](javascript:alert(1))"])
async def test_a_repository_named_oddly_is_unavailable(api: GitHubAPI, gh: respx.MockRouter, full_name: object) -> None:
    gh.get(f"{API}/repos/octo/repo").respond(200, json={"full_name": full_name})
    with pytest.raises(GitHubUnavailable):
        await api.repo_exists("octo/repo")


@pytest.mark.parametrize(("total", "read"), [(10**15, 2**31 - 1), ("many", 2), (-3, 2), (True, 2), (None, 2)])
async def test_a_search_total_is_a_count_that_fits_where_it_is_stored(
    api: GitHubAPI, gh: respx.MockRouter, total: object, read: int
) -> None:
    gh.get(f"{API}/search/issues").respond(200, json={"total_count": total, "items": [search_item(1), search_item(2)]})
    page = await api.search_issues("is:pr author:octocat")
    assert (page.total_count, [i.number for i in page.items], page.sent) == (read, [1, 2], 2)
