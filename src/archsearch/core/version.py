"""The library's version: stored with every study, checked when a study is reopened."""

VERSION = "0.1.0"


def compatible(stored: str, current: str = VERSION) -> bool:
    """Studies carry over within a major.minor series (0.1.x opens 0.1.y's folders)."""
    return stored.split(".")[:2] == current.split(".")[:2]
