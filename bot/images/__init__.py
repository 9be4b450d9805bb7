"""Every picture Shiplog draws with Pillow: the streak graph (`/streak`, the public page) and the page's card.

Pure drawing: values in, PNG bytes out, no Discord, no database and no clock (writes no table).
"""
