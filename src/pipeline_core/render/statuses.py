"""The status machine as a diagram."""

from __future__ import annotations

from pipeline_core.domain.statuses import StatusMachine


def mermaid(machine: StatusMachine) -> str:
    """The machine as a Mermaid state diagram."""
    ids = {name: f"s{index}" for index, name in enumerate(machine.names)}
    lines = ["stateDiagram-v2"]
    for status in machine.statuses:
        label = status.name.replace('"', "'")
        suffix = f" ({status.outcome})" if status.outcome else ""
        lines.append(f'    state "{label}{suffix}" as {ids[status.name]}')
    lines.append(f"    [*] --> {ids[machine.initial]}")
    for source in machine.names:
        for target in machine.allowed_from(source):
            lines.append(f"    {ids[source]} --> {ids[target]}")
    return "\n".join(lines) + "\n"
