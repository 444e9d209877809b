"""Status machine files: a machine written as JSON or TOML."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import cattrs

from pipeline_core.domain.serialization import converter, structure_error_text
from pipeline_core.domain.statuses import StatusMachine
from pipeline_core.errors import InvalidStatusMachine


def read_status_machine(path: str | Path) -> StatusMachine:
    """Read a status machine from a ``.json`` or ``.toml`` file; errors name the file and problem."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as error:
        raise InvalidStatusMachine(f"cannot read {file}: {error.strerror}") from None
    except UnicodeDecodeError:
        raise InvalidStatusMachine(f"{file} is not UTF-8 text") from None
    try:
        data = tomllib.loads(text) if file.suffix.lower() == ".toml" else json.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as error:
        raise InvalidStatusMachine(
            f"{file} is not valid {file.suffix[1:] or 'JSON'}: {error}"
        ) from None
    try:
        return converter.structure(data, StatusMachine)
    except cattrs.BaseValidationError as error:
        raise InvalidStatusMachine(f"{file}: {structure_error_text(error)}") from None
    except InvalidStatusMachine as error:
        raise InvalidStatusMachine(f"{file}: {error}") from None
