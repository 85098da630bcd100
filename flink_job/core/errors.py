"""Errors shared by the pure-Python core."""


class ConfigError(ValueError):
    """A runtime property is missing or invalid; names the property group and key at fault."""

    def __init__(self, group: str, key: str, message: str) -> None:
        self.group = group
        self.key = key
        super().__init__(f"property group '{group}', key '{key}': {message}")
