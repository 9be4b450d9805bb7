"""Sharing work in public: posts cut to fit each network (`share`), a member's weekly recap (`recap`),
and the opt-in public page's data (`pages`)."""
