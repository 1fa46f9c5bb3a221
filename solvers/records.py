"""The base of every record that crosses a package or process border.

One place (the lowest layer) for what they share: pydantic with ``extra="forbid"`` (a typo
is an error, not silence) and a ``schema_version``. Each record class says its own version
(``SCHEMA_VERSION``) and how to read an older one (``migrate``); a newer or unknown version
is rejected with a message that names the record, instead of being guessed at.

Example:
    >>> class Point(Record):
    ...     SCHEMA_VERSION: ClassVar[int] = 2
    ...     x: int
    ...     @classmethod
    ...     def migrate(cls, data, version):
    ...         return {"x": data.pop("old_x")}
    >>> Point.model_validate({"schema_version": 1, "old_x": 3})
    Point(schema_version=2, x=3)
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, model_validator


class Record(BaseModel):
    """A versioned, strict record. Subclasses set ``SCHEMA_VERSION`` and ``migrate``."""

    model_config = ConfigDict(extra="forbid")

    SCHEMA_VERSION: ClassVar[int] = 1
    schema_version: int = 0  # set to the class's version on validation

    @model_validator(mode="before")
    @classmethod
    def _versioned(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        version = data.get("schema_version", cls.SCHEMA_VERSION)
        if version == cls.SCHEMA_VERSION:
            return {**data, "schema_version": version}
        if isinstance(version, int) and 0 < version < cls.SCHEMA_VERSION:
            fields = {k: v for k, v in data.items() if k != "schema_version"}
            migrated = cls.migrate(fields, version)
            return {**migrated, "schema_version": cls.SCHEMA_VERSION}
        raise ValueError(
            f"{cls.__name__} schema_version {version!r} is not supported by this nesy (it "
            f"reads {cls.SCHEMA_VERSION} and migrates older ones); upgrade nesy or convert "
            "the file"
        )

    @classmethod
    def migrate(cls, data: dict[str, Any], version: int) -> dict[str, Any]:
        """Turn a record of an older ``version`` into this version's fields."""
        return data


class DataFile(Record):
    """A data file a model was trained on or a run was evaluated on, pinned by content."""

    path: str
    sha256: str
    task: str = ""
    split: str = ""

    @model_validator(mode="before")
    @classmethod
    def _file_key(cls, data: Any) -> Any:
        if isinstance(data, dict) and "file" in data and "path" not in data:  # cards before v2
            data = {("path" if k == "file" else k): v for k, v in data.items()}
        return data
