"""The one base exception of Deskmail.

It lives in `models` because every package may import `models` and no other shared package
exists below the domain packages; each package derives its own errors from `DeskmailError`.
"""


class DeskmailError(Exception):
    """Base of every error Deskmail raises on purpose."""
