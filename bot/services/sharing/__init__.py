"""Sharing work in public: posts cut to fit each network (`share`), a member's weekly recap (`recap`),
and the opt-in public page's data (`pages`).

The tables it writes: `member_pages` and the page settings in `guilds` (`pages`), and the recap-DM opt-in
in `members` (`recap`); the drafts and their counts (`share`, `counting`, `posts`) only read.
"""
