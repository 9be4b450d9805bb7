"""Sharing work in public: posts cut to fit each network (`share`), a member's weekly recap (`recap`),
the opt-in public page's data (`pages`) and the server's community page's (`community`).

The tables it writes: `member_pages` and the page settings in `guilds` (`pages`), the community page's
`community_*` columns of `guilds` (`community`), and the recap-DM opt-in in `members` (`recap`); the
drafts and their counts (`share`, `counting`, `posts`) only read.
"""
